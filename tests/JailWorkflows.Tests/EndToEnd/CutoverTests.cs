using System.Net.Http;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Store;
using JailWorkflows.Lab;
using JailWorkflows.Tests.Lab;
using JailWorkflows.Tests.Support;
using WorkflowCore.Models;

namespace JailWorkflows.Tests.EndToEnd;

/// <summary>The cutover with little downtime on the lab: a live source, a level-0 transfer, an approval, a level-1 delta.</summary>
[Collection(LabCollection.Name)]
public sealed class CutoverTests(LabFixture lab)
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(5);

    [LabFact]
    public async Task A_live_source_is_transferred_then_after_the_approval_its_service_is_stopped_and_the_delta_applied()
    {
        var run = Consolidation.Create(lab, "cutover", "ServerC", "serverc-cut", "127.0.20.62", cutover: true);
        var source = lab.Info.Server("ServerC");
        await using var live = await LabLiveSource.StartAsync(source);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var sourcePage = new Uri($"http://{source.Ssh.Address}/");
        await Wait.UntilAsync(async () => await TryGetAsync(http, sourcePage) is not null, TimeSpan.FromSeconds(30), "the live source's web page");
        var httpd = int.Parse((await File.ReadAllTextAsync(Path.Combine(live.Root, "var/run/httpd.pid"))).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            // The level-0 transfer runs while the source serves; then the instance waits for the cutover's approval.
            var waits = await Jailwf.RunAsync(RunTimeout, run.RunArgs);
            Assert.True(waits.Exit == 4, $"exit {waits.Exit}\n{waits.StdOut}\n{waits.StdErr}");
            Assert.Contains("waits for approval at step cutover-approval", waits.StdOut, StringComparison.Ordinal);
            var instance = (await run.InstanceAsync())!;
            Assert.Equal("stop apache on ServerC and apply the level-1 delta of /, /usr", instance.Approval!.Subject);
            var status = await Jailwf.RunAsync(RunTimeout, "status", instance.Id, "--db", run.Database);
            Assert.Contains("stop apache on ServerC and apply the level-1 delta of /, /usr", status.StdOut.ReplaceLineEndings(" "), StringComparison.Ordinal);
            Assert.True(File.Exists($"/proc/{httpd}/stat"), "the source's service runs until the approval");
            Assert.True(File.Exists(Path.Combine(run.JailRoot, "restoresymtable")), "the level-0 restore of / keeps restoresymtable for the delta");
            Assert.True(File.Exists(Path.Combine(run.JailRoot, "usr/restoresymtable")), "the level-0 restore of /usr keeps restoresymtable for the delta");

            // Meanwhile the live service changes files on both partitions: add, modify, delete, rename.
            await File.WriteAllTextAsync(Path.Combine(live.Root, "usr/local/www/data/added.html"), "added after the level-0 dump\n");
            await File.WriteAllTextAsync(Path.Combine(live.Root, "usr/local/www/data/index.html"), "<html><body><h1>ServerC after the level-0 dump</h1></body></html>\n");
            File.Delete(Path.Combine(live.Root, "var/db/pkg/apache-1.3.29/+CONTENTS"));
            File.Move(Path.Combine(live.Root, "usr/home/admin/.profile"), Path.Combine(live.Root, "usr/home/admin/.profile.renamed"));
            await live.SyncAsync();

            // Approve the downtime (and then the /etc files): the service stops, the delta is applied, the jail starts.
            var approved = await Jailwf.RunAsync(RunTimeout, "approve", instance.Id, "--reason", "e2e: downtime approved", "--db", run.Database, "--poll", "0.3");
            Assert.True(approved.Exit == 4, $"exit {approved.Exit}\n{approved.StdOut}\n{approved.StdErr}");
            Assert.Contains("waits for approval at step mergeetc", approved.StdOut, StringComparison.Ordinal);
            var done = await Jailwf.RunAsync(RunTimeout, run.ApproveArgs(instance.Id));
            Assert.True(done.Exit == 0, $"exit {done.Exit}\n{done.StdOut}\n{done.StdErr}");

            Assert.False(File.Exists($"/proc/{httpd}/stat"), "the source's httpd must be stopped by the cutover");
            Assert.Null(await TryGetAsync(http, sourcePage));
            var journal = await run.JournalAsync(instance.Id);
            Assert.Contains(journal, e => e.Step == "cutover" && e.Message.StartsWith("stopped apache on ServerC: sh /usr/local/etc/rc.d/apache.sh stop", StringComparison.Ordinal));
            Assert.Equal(2, journal.Count(e => e.Step == "cutover" && e.Message.Contains("level-1 delta applied", StringComparison.Ordinal)));
            var deltaJobs = journal.Where(e => e.Kind == JournalEntryKind.JobStarted && e.Step == "cutover").Select(e => e.JobId!).ToList();
            Assert.Equal(2, deltaJobs.Count);
            Assert.All(deltaJobs, j => Assert.Contains("-cutover-delta", j, StringComparison.Ordinal));
            Assert.Contains(journal, e => e.Step == "cutover" && e.Kind == JournalEntryKind.JobOutput && e.Message.Contains("level 1 dump", StringComparison.Ordinal));

            // The jail has the source's last state: the delta's additions, changes, removals and renames.
            var root = run.JailRoot;
            Assert.Equal("added after the level-0 dump\n", await File.ReadAllTextAsync(Path.Combine(root, "usr/local/www/data/added.html")));
            Assert.False(File.Exists(Path.Combine(root, "var/db/pkg/apache-1.3.29/+CONTENTS")), "a file deleted on the source is gone from the jail");
            Assert.False(File.Exists(Path.Combine(root, "usr/home/admin/.profile")), "a renamed file is gone under its old name");
            Assert.True(File.Exists(Path.Combine(root, "usr/home/admin/.profile.renamed")), "a renamed file is there under its new name");
            Assert.Empty(Directory.GetFiles(root, "restoresymtable", SearchOption.AllDirectories));
            Assert.Contains("ServerC after the level-0 dump", await http.GetStringAsync(new Uri("http://127.0.20.62/")), StringComparison.Ordinal);
            Assert.Equal(WorkflowStatus.Complete, (await run.InstanceAsync())!.Status);
        }
        finally
        {
            await run.StopJailAsync();
        }
    }

    private static async Task<string?> TryGetAsync(HttpClient http, Uri uri)
    {
        try
        {
            return await http.GetStringAsync(uri);
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }
}
