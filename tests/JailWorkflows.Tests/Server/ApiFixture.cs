using JailWorkflows.Cli.Commands;
using JailWorkflows.Engine;
using JailWorkflows.Server;
using JailWorkflows.Server.Api;
using JailWorkflows.Server.Schedules;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Quartz;

namespace JailWorkflows.Tests.Server;

/// <summary>
/// serve's HTTP API in WebApplicationFactory's in-memory TestServer: the host is the one serve builds
/// (<see cref="ApiHost.CreateHostBuilder"/>: same services, Host-header and token guard, problem details, OpenAPI, endpoints,
/// designer files), with Kestrel replaced by the TestServer. Behind it, as in serve: the engine on a real SQLite file in a
/// temporary directory, Quartz's scheduler on <c>&lt;db&gt;.schedules</c>, and the token file <c>&lt;db&gt;.token</c> (mode 0600)
/// made by the code serve uses. Shared by the tests of a class.
/// </summary>
public sealed class ApiFixture : ApiHostFixture
{
    private JailwfEngine? _engine;
    private ServiceProvider? _schedules;
    private IScheduler? _scheduler;
    private ApiFactory? _factory;

    /// <summary>The engine behind the API, for assertions that look past the API.</summary>
    public JailwfEngine Engine => _engine ?? throw new InvalidOperationException("not started");

    /// <summary>A client whose requests carry <paramref name="host"/> as their Host header, with the token.</summary>
    public HttpClient ClientFor(string host)
    {
        var client = _factory!.CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri($"http://{host}/") });
        client.DefaultRequestHeaders.Authorization = new("Bearer", Token);
        return client;
    }

    protected override async Task StartHostAsync()
    {
        // What serve does before its API starts (JailwfServer.RunAsync), in the same order.
        Options.Validate();
        _engine = await JailwfEngine.StartAsync(Options.Engine);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(_engine);
        services.AddJailwfSchedules(Options, TimeProvider.System);
        _schedules = services.BuildServiceProvider();
        _scheduler = await _schedules.GetRequiredService<ISchedulerFactory>().GetScheduler();
        await _scheduler.Start();
        var (token, _) = ApiToken.LoadOrCreate(Options.TokenPath);
        _factory = new ApiFactory(ApiHost.CreateHostBuilder(Options, _engine, _schedules.GetRequiredService<ScheduleBook>(), token, _ => { }));
        _ = _factory.Server; // builds and starts the host now, so a broken pipeline fails the fixture, not the first test
    }

    protected override async Task StopHostAsync()
    {
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        if (_scheduler is not null)
        {
            await _scheduler.Shutdown(waitForJobsToComplete: true);
        }

        if (_schedules is not null)
        {
            await _schedules.DisposeAsync();
        }

        if (_engine is not null)
        {
            await _engine.DisposeAsync();
        }
    }

    protected override HttpClient CreateClient() => _factory!.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

    /// <summary>
    /// WebApplicationFactory on serve's API host. The entry point type only names the program (jailwf, whose .deps.json
    /// Mvc.Testing copies here); the host comes from <see cref="ApiHost.CreateHostBuilder"/>, to which the factory adds its
    /// TestServer.
    /// </summary>
    private sealed class ApiFactory(IHostBuilder api) : WebApplicationFactory<ServeCommand>
    {
        protected override IHostBuilder CreateHostBuilder() => api;
    }
}
