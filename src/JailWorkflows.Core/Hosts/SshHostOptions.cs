namespace JailWorkflows.Hosts;

/// <summary>Timeouts of an <see cref="SshHost"/>. The defaults suit a jail host or source server on a LAN.</summary>
public sealed record SshHostOptions
{
    /// <summary>
    /// Time allowed for the TCP connect and for each step of the SSH handshake (key exchange,
    /// authentication). Default 15 seconds. On expiry the host is reported unreachable
    /// (<see cref="HostUnreachableException"/>).
    /// </summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Interval between SSH keep-alive messages on an idle connection, so a dead peer or a NAT that
    /// dropped the connection is noticed and the next command reconnects. Default 30 seconds;
    /// <see cref="Timeout.InfiniteTimeSpan"/> turns keep-alives off.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Longest time one command (<see cref="Host.RunAsync"/>) may run before its process group is killed, its channel
    /// closed and <see cref="HostUnreachableException"/> thrown. Default 10 minutes: commands are short by
    /// design (DESIGN.md D2); anything longer is a host job (<see cref="HostJobs"/>).
    /// <see cref="Timeout.InfiniteTimeSpan"/> for no limit.
    /// </summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromMinutes(10);
}
