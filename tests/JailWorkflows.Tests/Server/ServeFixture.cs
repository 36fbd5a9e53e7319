using JailWorkflows.Server;

namespace JailWorkflows.Tests.Server;

/// <summary>
/// A real <c>jailwf serve</c> host in this process (<see cref="JailwfServer.RunAsync"/>: engine lock, engine, Quartz, control
/// socket, token file, HTTP API on Kestrel on an ephemeral loopback port). For what only a real socket shows; the API's
/// behaviour is tested through <see cref="ApiFixture"/>.
/// </summary>
public sealed class ServeFixture : ApiHostFixture
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _serve;

    public Uri BaseAddress { get; private set; } = null!;

    protected override async Task StartHostAsync()
    {
        var started = new TaskCompletionSource<IReadOnlyList<string>>(TaskCreationOptions.RunContinuationsAsynchronously);
        Options.ApiStarted = addresses => started.TrySetResult(addresses);
        _serve = Task.Run(() => JailwfServer.RunAsync(Options, _stop.Token));
        var first = await Task.WhenAny(started.Task, _serve).WaitAsync(Deadline);
        if (first == _serve)
        {
            await _serve; // throws what stopped serve
            throw new InvalidOperationException("serve ended before its API listened");
        }

        BaseAddress = new Uri(Assert.Single(await started.Task));
    }

    protected override async Task StopHostAsync()
    {
        await _stop.CancelAsync();
        if (_serve is not null)
        {
            await _serve.WaitAsync(Deadline);
        }

        _stop.Dispose();
    }

    protected override HttpClient CreateClient() => new() { BaseAddress = BaseAddress };
}
