using System.Collections.Concurrent;
using JailWorkflows.Hosts;
using JailWorkflows.Plans;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// The engine's connections to jail hosts, one per endpoint (address, port, user, pinned key), shared by all
/// activities and closed when the engine stops. SSH.NET multiplexes channels, so concurrent steps share one.
/// </summary>
public sealed class HostConnections : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<Host>> _hosts = new(StringComparer.Ordinal);

    /// <summary>The jail host of a plan: local, or over SSH with its pinned key.</summary>
    /// <param name="spec">The jail host.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The host (connected lazily on first command).</returns>
    public Task<Host> GetJailHostAsync(JailHostSpec spec, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Get(spec.Ssh));
    }

    /// <summary>A host reached over SSH (e.g. a source server), or this machine when <paramref name="endpoint"/> is null.</summary>
    /// <param name="endpoint">The endpoint.</param>
    /// <returns>The host.</returns>
    public Host Get(SshEndpoint? endpoint)
    {
        var key = endpoint is null ? "local" : $"{endpoint.User}@{endpoint.Address}:{endpoint.Port}|{endpoint.HostKey}|{endpoint.KeyFile}|{endpoint.LegacySsh}";
        return _hosts.GetOrAdd(key, _ => new Lazy<Host>(() => endpoint is null ? new LocalHost() : new SshHost(endpoint))).Value;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts.Values.Where(h => h.IsValueCreated))
        {
            await host.Value.DisposeAsync().ConfigureAwait(false);
        }

        _hosts.Clear();
    }
}
