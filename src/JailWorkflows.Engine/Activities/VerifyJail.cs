using System.Globalization;
using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using JailWorkflows.Shell;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Activities;

/// <summary>
/// Verifies a started jail: <c>jls -j &lt;name&gt;</c> lists it with its IP, <c>jexec &lt;name&gt; /bin/sh -c true</c>
/// works, and its web service answers <c>fetch -q -o - http://&lt;jail ip&gt;&lt;path&gt;</c> on the jail host within
/// the timeout (retried on later runs, never by blocking the engine).
/// </summary>
public sealed partial class VerifyJail(ActivityServices services) : Activity(services)
{
    [System.Text.RegularExpressions.GeneratedRegex("<[^>]*>")]
    private static partial System.Text.RegularExpressions.Regex Tags();

    [System.Text.RegularExpressions.GeneratedRegex(@"\s+")]
    private static partial System.Text.RegularExpressions.Regex Whitespace();

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

        var path = (string?)run.Inputs["httpPath"] ?? "/";
        var timeout = TimeSpan.FromSeconds((int?)run.Inputs["timeoutSeconds"] ?? 60);
        var url = $"http://{jail.Ip}{path}";
        var now = Services.Time.GetUtcNow();
        if (!run.State.Values.TryGetValue("since", out var sinceText))
        {
            sinceText = now.ToString("O", CultureInfo.InvariantCulture);
            run.State.Values["since"] = sinceText;
        }

        var fetch = await run.RunAsync(ShellCommand.Of("fetch", "-q", "-o", "-", url)).ConfigureAwait(false);
        if (!fetch.Succeeded)
        {
            if (now - DateTimeOffset.Parse(sinceText, CultureInfo.InvariantCulture) < timeout)
            {
                return run.Sleep();
            }

            run.State.Values.Remove("since"); // a resume waits the whole timeout again
            throw run.Fail($"{url} did not answer within {timeout.TotalSeconds:0} s (fetch exit {fetch.ExitStatus}: {fetch.StdErr.Trim()})");
        }

        var text = Whitespace().Replace(Tags().Replace(fetch.StdOut, " "), " ").Trim();
        await run.JournalAsync(JournalEntryKind.Info, $"jail {jail.Name} (JID {row.Jid}) runs; jexec works; {url} answers: {(text.Length > 160 ? text[..160] + "…" : text)}").ConfigureAwait(false);
        return ExecutionResult.Next();
    }
}
