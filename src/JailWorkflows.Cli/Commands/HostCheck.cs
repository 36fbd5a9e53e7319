using JailWorkflows.Hosts;
using JailWorkflows.Plans;
using Spectre.Console;

namespace JailWorkflows.Cli.Commands;

/// <summary>Connects to the jail host and the source servers with their pinned keys before a workflow starts.</summary>
internal static class HostCheck
{
    /// <summary>Connects and authenticates (no command is run); throws on the first unreachable host or wrong key.</summary>
    /// <exception cref="HostUnreachableException">A host cannot be reached.</exception>
    /// <exception cref="HostKeyMismatchException">A host presented another key than the pinned one.</exception>
    public static async Task VerifyAsync(Plan plan, IReadOnlyList<string> servers, CancellationToken cancellationToken)
    {
        var endpoints = new List<(string Role, SshEndpoint Endpoint)>();
        if (plan.JailHost.Ssh is { } jailHost)
        {
            endpoints.Add(($"jail host {plan.JailHost.Name}", jailHost));
        }

        endpoints.AddRange(servers.Select(s => ($"source server {s}", plan.Server(s).Ssh)));
        foreach (var (role, endpoint) in endpoints)
        {
            await using var host = new SshHost(endpoint);
            await host.ConnectAndVerifyAsync(cancellationToken).ConfigureAwait(false);
            AnsiConsole.MarkupLine($"[grey]{Markup.Escape(role)} {Markup.Escape(endpoint.User)}@{Markup.Escape(endpoint.Address)}:{endpoint.Port}: host key verified[/]");
        }
    }
}
