using System.Globalization;
using System.Text.Json.Nodes;
using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using JailWorkflows.Hosts;
using JailWorkflows.Shell;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// Verifies a started jail: <c>jls -j &lt;name&gt;</c> lists it with its path and IP, <c>jexec &lt;name&gt; /bin/sh -c true</c>
/// works, and every service its <c>etc/rc.conf</c> enables is up:
/// <list type="bullet">
/// <item>a process of the service runs inside the jail (<c>jexec &lt;name&gt; ps ax</c>; apache → httpd, samba → smbd…,
/// see <see cref="JailServices.Profile"/>);</item>
/// <item>one of its ports listens on the jail's IP (<c>sockstat -4l</c> on the jail host), for services with a known port;</item>
/// <item>a web server (apache*, httpd, nginx, lighttpd) answers <c>fetch -q -T 10 -o - http://&lt;jail ip&gt;&lt;httpPath&gt;</c>.</item>
/// </list>
/// Each service's result is a journal line. Services still down are checked again on later runs (never by blocking the
/// engine) until <c>timeoutSeconds</c> passed since the first check; then the step fails as an incident naming them, so
/// the instance does not finish successfully while an enabled service is down.
/// </summary>
/// <remarks>
/// Services that cannot be checked are reported honestly, never counted as up: a service named in <c>skipServices</c>
/// is "skipped" (a warning line); a service enabled in rc.conf without an rc.d script in the jail
/// (<c>etc/rc.d/&lt;s&gt;</c>, <c>usr/local/etc/rc.d/&lt;s&gt;</c> or <c>&lt;s&gt;.sh</c>) is "no rc.d script: not checked"
/// (a warning line; the jail's rc cannot start it either, e.g. a package not installed yet), or down when
/// <c>missingScriptIsDown</c> is set.
/// </remarks>
public sealed class VerifyJail(ActivityServices services) : Activity(services)
{
    /// <inheritdoc />
    protected override async Task<ExecutionResult> ExecuteAsync(ActivityRun run)
    {
        var jail = run.Server.Jail;
        var listed = await run.RunAsync(Jls.ForJail(jail.Name)).ConfigureAwait(false);
        if (!listed.Succeeded)
        {
            throw run.Fail($"jail {jail.Name} is not running (jls -j {jail.Name}: {listed.StdErr.Trim()})");
        }

        var row = Jls.Parse(listed.StdOut).FirstOrDefault(r => r.Path == run.JailRoot.Path);
        if (row is null || row.Ip != jail.Ip)
        {
            throw run.Fail($"jls lists jail {jail.Name} but not with path {run.JailRoot} and IP {jail.Ip}: {listed.StdOut.Trim()}");
        }

        var jexec = await run.RunAsync(Jexec.Command(jail.Name, ["/bin/sh", "-c", "true"])).ConfigureAwait(false);
        if (!jexec.Succeeded)
        {
            throw run.Fail($"jexec {jail.Name} /bin/sh -c true failed (exit {jexec.ExitStatus}): {jexec.StdErr.Trim()}");
        }

        var now = Services.Time.GetUtcNow();
        if (!run.State.Values.TryGetValue("since", out var sinceText))
        {
            sinceText = now.ToString("O", CultureInfo.InvariantCulture);
            run.State.Values["since"] = sinceText;
        }

        var timeout = TimeSpan.FromSeconds((int?)run.Inputs["timeoutSeconds"] ?? 60);
        var results = await CheckServicesAsync(run).ConfigureAwait(false);
        var down = results.Where(r => r.Verdict == ServiceVerdict.Down).ToList();
        if (down.Count > 0 && now - DateTimeOffset.Parse(sinceText, CultureInfo.InvariantCulture) < timeout)
        {
            return run.Sleep();
        }

        foreach (var result in results)
        {
            var kind = result.Verdict switch
            {
                ServiceVerdict.Up => JournalEntryKind.Info,
                ServiceVerdict.NotChecked => JournalEntryKind.Warning,
                _ => JournalEntryKind.Error,
            };
            await run.JournalAsync(kind, $"service {result.Service}: {result.Verdict switch { ServiceVerdict.Up => "up", ServiceVerdict.NotChecked => "not checked", _ => "DOWN" }}: {result.Detail}").ConfigureAwait(false);
        }

        if (down.Count > 0)
        {
            // A resume after this incident gives the services a fresh timeout.
            run.State.Values.Remove("since");
            throw run.Fail($"jail {jail.Name}: {down.Count} enabled service(s) down after {timeout.TotalSeconds:0} s: {string.Join("; ", down.Select(d => $"{d.Service} ({d.Detail})"))}");
        }

        if (results.Count == 0)
        {
            await run.JournalAsync(JournalEntryKind.Warning, $"jail {jail.Name}: its rc.conf enables no service; only jls and jexec were checked").ConfigureAwait(false);
        }

        var up = results.Where(r => r.Verdict == ServiceVerdict.Up).Select(r => r.Service).ToList();
        var notChecked = results.Where(r => r.Verdict == ServiceVerdict.NotChecked).Select(r => r.Service).ToList();
        await run.JournalAsync(
            JournalEntryKind.Info,
            $"jail {jail.Name} (JID {row.Jid}) runs; jexec works; services up: {(up.Count > 0 ? string.Join(", ", up) : "none")}{(notChecked.Count > 0 ? "; not checked: " + string.Join(", ", notChecked) : string.Empty)}").ConfigureAwait(false);
        return ExecutionResult.Next();
    }

    private static async Task<List<ServiceResult>> CheckServicesAsync(ActivityRun run)
    {
        var jail = run.Server.Jail;
        var host = await run.JailHostAsync().ConfigureAwait(false);
        var rcConf = await host.ReadFileAsync(run.JailRoot.Combine("etc/rc.conf"), run.CancellationToken).ConfigureAwait(false) ?? string.Empty;
        var services = JailServices.Enabled(rcConf);
        var skip = (run.Inputs["skipServices"] as JsonArray)?.Select(n => (string?)n).OfType<string>().ToHashSet(StringComparer.Ordinal) ?? [];
        var missingScriptIsDown = (bool?)run.Inputs["missingScriptIsDown"] ?? false;
        var path = (string?)run.Inputs["httpPath"] ?? "/";
        var results = new List<ServiceResult>();
        if (services.Count == 0)
        {
            return results;
        }

        // What runs in the jail, and what listens on the host: read once for all services.
        var ps = await run.RunAsync(Jexec.Command(jail.Name, ["ps", "ax"])).ConfigureAwait(false);
        IReadOnlyList<string>? programs = ps.Succeeded ? Ps.ProgramNames(ps.StdOut) : null;
        var sockstat = await run.RunAsync(Sockstat.ListeningIPv4()).ConfigureAwait(false);
        IReadOnlyList<SocketListing>? sockets = sockstat.Succeeded ? Sockstat.Parse(sockstat.StdOut) : null;

        foreach (var service in services)
        {
            if (skip.Contains(service))
            {
                results.Add(new ServiceResult(service, ServiceVerdict.NotChecked, "skipped (listed in skipServices)"));
                continue;
            }

            var scripts = JailServices.ScriptCandidates(run.JailRoot, service);
            var anyScript = scripts.Skip(1).Aggregate(ShellCommand.Of("test", "-e", scripts[0]), (c, s) => c.Or(ShellCommand.Of("test", "-e", s)));
            if (!(await run.RunAsync(anyScript).ConfigureAwait(false)).Succeeded)
            {
                var detail = $"no rc.d script in the jail ({string.Join(", ", scripts.Select(s => s[run.JailRoot.Path.Length..]))}): the jail's rc cannot start it";
                results.Add(missingScriptIsDown
                    ? new ServiceResult(service, ServiceVerdict.Down, detail)
                    : new ServiceResult(service, ServiceVerdict.NotChecked, detail));
                continue;
            }

            var profile = JailServices.Profile(service);
            var problems = new List<string>();
            var facts = new List<string>();
            if (programs is null)
            {
                problems.Add($"jexec {jail.Name} ps ax failed (exit {ps.ExitStatus}): {ps.StdErr.Trim()}");
            }
            else if (profile.ProcessNames.FirstOrDefault(programs.Contains) is { } running)
            {
                facts.Add($"{running} runs");
            }
            else
            {
                problems.Add($"no {string.Join(" or ", profile.ProcessNames)} process in the jail");
            }

            if (profile.TcpPorts.Count == 0)
            {
                facts.Add("no known port: not checked");
            }
            else if (sockets is null)
            {
                problems.Add($"sockstat -4l failed (exit {sockstat.ExitStatus}): {sockstat.StdErr.Trim()}");
            }
            else if (sockets.FirstOrDefault(k => k.Protocol.StartsWith("tcp", StringComparison.Ordinal) && k.LocalAddress == jail.Ip && profile.TcpPorts.Contains(k.LocalPort)) is { } socket)
            {
                facts.Add($"{socket.Command} listens on {jail.Ip}:{socket.LocalPort.ToString(CultureInfo.InvariantCulture)}");
            }
            else
            {
                problems.Add($"nothing listens on {string.Join(" or ", profile.TcpPorts.Select(p => $"{jail.Ip}:{p.ToString(CultureInfo.InvariantCulture)}"))}");
            }

            if (profile.IsWebServer)
            {
                var url = $"http://{jail.Ip}{path}";
                var fetch = await run.RunAsync(ShellCommand.Of("fetch", "-q", "-T", "10", "-o", "-", url)).ConfigureAwait(false);
                if (fetch.Succeeded)
                {
                    var firstLine = fetch.StdOut.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? string.Empty;
                    facts.Add($"{url} answers: {(firstLine.Length > 120 ? firstLine[..120] + "…" : firstLine)}");
                }
                else
                {
                    problems.Add($"{url} does not answer ({fetch.StdErr.Trim()})");
                }
            }

            results.Add(problems.Count == 0
                ? new ServiceResult(service, ServiceVerdict.Up, string.Join("; ", facts))
                : new ServiceResult(service, ServiceVerdict.Down, string.Join("; ", problems)));
        }

        return results;
    }

    private enum ServiceVerdict
    {
        Up,
        NotChecked,
        Down,
    }

    private sealed record ServiceResult(string Service, ServiceVerdict Verdict, string Detail);
}
