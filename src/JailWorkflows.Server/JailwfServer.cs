using JailWorkflows.Engine;
using JailWorkflows.Server.Api;
using JailWorkflows.Server.Schedules;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Quartz;

namespace JailWorkflows.Server;

/// <summary>
/// <c>jailwf serve</c>: the long-running engine process. It holds the database's engine lock, runs the engine (WorkflowCore)
/// and the schedules (Quartz.NET on <see cref="ServeOptions.SchedulesPath"/>), and answers the CLI on the control socket
/// <see cref="ServeOptions.SocketPath"/> (Kestrel on a Unix domain socket, mode 0600; <see cref="ControlApi"/>). It logs to
/// standard output and stops cleanly on SIGTERM or SIGINT: the scheduler first (a fire in progress finishes), then the engine
/// (running steps end at their checkpoint; host jobs keep running on their hosts), then the socket and the lock are removed.
/// </summary>
public static partial class JailwfServer
{
    /// <summary>Runs serve until it is told to stop (SIGTERM, SIGINT or <paramref name="cancellationToken"/>).</summary>
    /// <param name="options">The options (validated here).</param>
    /// <param name="cancellationToken">Stops serve when cancelled.</param>
    /// <returns>A task that ends when serve has stopped.</returns>
    /// <exception cref="System.ComponentModel.DataAnnotations.ValidationException">An option is invalid.</exception>
    /// <exception cref="EngineLockedException">Another engine (a serve or a CLI command) holds the database.</exception>
    /// <exception cref="Engine.Definitions.DefinitionValidationException">A workflow definition is invalid.</exception>
    public static async Task RunAsync(ServeOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        options.Engine.DatabasePath = Path.GetFullPath(options.Engine.DatabasePath);
        await using var engine = await JailwfEngine.StartAsync(options.Engine, ConfigureLogging, cancellationToken).ConfigureAwait(false);

        // This process holds the engine lock: a socket file left by a killed serve is stale.
        var socket = options.SocketPath;
        File.Delete(socket);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "jailwf", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        ConfigureLogging(builder.Logging);
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixSocket(socket));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(60));
        builder.Services.AddSingleton(engine);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddJailwfSchedules(options, TimeProvider.System);
        builder.Services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
        builder.Services.AddProblemDetails();
        await using var app = builder.Build();
        ControlApi.Map(app);
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("JailWorkflows.Server");
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(socket, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            LogServing(logger, options.DatabasePath, socket, Environment.ProcessId);
        });
        using var stop = cancellationToken.Register(() => app.Lifetime.StopApplication());
        IHost? api = null;
        try
        {
            await app.StartAsync(CancellationToken.None).ConfigureAwait(false);
            if (options.Urls.Count > 0)
            {
                var (token, created) = ApiToken.LoadOrCreate(options.TokenPath);
                if (created)
                {
                    // Printed once, to standard output only (never to the log); 'jailwf token' prints it again.
                    await Console.Out.WriteLineAsync($"jailwf serve: new API token (kept in {options.TokenPath}, mode 0600; 'jailwf token' shows it again): {token.Value}").ConfigureAwait(false);
                }

                api = ApiHost.CreateHostBuilder(options, engine, app.Services.GetRequiredService<ScheduleBook>(), token, ConfigureLogging).Build();
                await api.StartAsync(CancellationToken.None).ConfigureAwait(false);
                var addresses = ApiHost.Addresses(api);
                LogApi(logger, string.Join(", ", addresses), ApiHost.DesignerDirectory(options) ?? "none (API only)");
                options.ApiStarted?.Invoke(addresses);
            }

            await app.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
            LogStopped(logger);
        }
        finally
        {
            if (api is not null)
            {
                await api.StopAsync(CancellationToken.None).ConfigureAwait(false);
                if (api is IAsyncDisposable disposable)
                {
                    await disposable.DisposeAsync().ConfigureAwait(false);
                }
                else
                {
                    api.Dispose();
                }
            }

            File.Delete(socket);
        }
    }

    private static void ConfigureLogging(ILoggingBuilder logging) =>
        logging
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ssZ ";
                o.UseUtcTimestamp = true;
            })
            .SetMinimumLevel(LogLevel.Information)
            .AddFilter("Microsoft.AspNetCore", LogLevel.Warning)
            .AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning)
            .AddFilter("Quartz", LogLevel.Warning)
            .AddFilter("WorkflowCore", LogLevel.Warning);

    [LoggerMessage(Level = LogLevel.Information, Message = "jailwf serve (pid {Pid}) runs the engine on {Database}; control socket {Socket}")]
    private static partial void LogServing(ILogger logger, string database, string socket, int pid);

    [LoggerMessage(Level = LogLevel.Information, Message = "HTTP API on {Addresses} (bearer token required; docs/api.md); designer files: {Designer}")]
    private static partial void LogApi(ILogger logger, string addresses, string designer);

    [LoggerMessage(Level = LogLevel.Information, Message = "jailwf serve stopped: schedules paused with the process, running steps checkpointed, host jobs go on")]
    private static partial void LogStopped(ILogger logger);
}
