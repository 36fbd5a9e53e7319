using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using JailWorkflows.Tests.EndToEnd;
using JailWorkflows.Tests.Lab;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace JailWorkflows.Tests.Browser;

/// <summary>
/// The instance view in Debian's chromium against a real <c>jailwf serve</c> on the lab: a consolidation of ServerC is
/// started, watched step by step until MergeEtc asks for an approval, the differences of the jail's /etc files are shown,
/// the approval is given from the browser with a reason, and the instance runs to its end.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class InstanceBrowserTests(LabFixture lab)
{
    private static readonly LocatorAssertionsToHaveAttributeOptions UntilApproval = new() { Timeout = 240_000 };

    [LabFact]
    public async Task A_consolidation_is_watched_in_the_instance_view_and_its_merge_approved_from_the_browser()
    {
        var run = Consolidation.Create(lab, "browser", "ServerC", "serverc-br", "127.0.20.120", buildStageSeconds: 0.1);
        try
        {
            await using var session = await BrowserSession.StartAsync(run.Database, Path.Combine(AppContext.BaseDirectory, "workflows"));
            using var client = session.Client();
            var started = await client.PostAsJsonAsync("api/v1/instances", new { definition = "consolidate-server", plan = await File.ReadAllTextAsync(run.PlanFile) });
            Assert.True(started.StatusCode == HttpStatusCode.Created, await started.Content.ReadAsStringAsync());
            var id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["instances"]![0]!;

            // Before the approval is asked for, the differences are refused with 404.
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"api/v1/instances/{id}/approval/diffs")).StatusCode);

            var page = session.Page;
            await page.GetByTestId("nav-instances").ClickAsync();
            await page.GetByTestId($"instance-{id}").ClickAsync();
            var detail = page.GetByTestId("instance-detail");
            await Expect(detail).ToBeVisibleAsync();

            // The steps turn done one after the other, up to the merge of /etc, which waits for a person.
            foreach (var step in new[] { "preflight", "buildworld", "transfer", "strip", "installworld" })
            {
                await Expect(page.GetByTestId($"step-{step}")).ToHaveAttributeAsync("data-state", "done", UntilApproval);
            }

            await Expect(page.GetByTestId("step-mergeetc")).ToHaveAttributeAsync("data-state", "awaitingApproval", UntilApproval);
            await Expect(detail).ToHaveAttributeAsync("data-state", "awaitingApproval");
            await Expect(page.GetByTestId("step-verify")).ToHaveAttributeAsync("data-state", "waiting");
            await Expect(page.GetByTestId("approval")).ToBeVisibleAsync();

            // The API's differences: the jail's file (a/) against mergemaster's offer in the temproot (b/), per file asked for.
            var view = (await client.GetFromJsonAsync<JsonObject>($"api/v1/instances/{id}"))!;
            var asked = view["approval"]!["files"]!.AsArray().Select(f => ((string)f!).Split(" (")[0]).ToList();
            Assert.Contains("etc/group", asked);
            var files = (await client.GetFromJsonAsync<JsonObject>($"api/v1/instances/{id}/approval/diffs"))!["files"]!.AsArray();
            Assert.Equal(asked, files.Select(f => (string)f!["path"]!));
            var group = (string)files.Single(f => (string)f!["path"]! == "etc/group")!["diff"]!;
            Assert.StartsWith("--- a/etc/group\n+++ b/etc/group\n@@ ", group, StringComparison.Ordinal);
            var jailGroup = await File.ReadAllLinesAsync(Path.Combine(run.JailRoot, "etc/group"));
            var offeredGroup = await File.ReadAllLinesAsync(Path.Combine(run.Plan.JailHost.StateDir, "jails", "serverc-br", "temproot", "etc/group"));
            var lines = group.Split('\n').Skip(2).Where(l => l.Length > 0 && !l.StartsWith("@@", StringComparison.Ordinal)).ToList();
            Assert.Contains(lines, l => l[0] == '-');
            Assert.Contains(lines, l => l[0] == '+');
            Assert.All(lines.Where(l => l[0] == '-'), l => Assert.Contains(l[1..], jailGroup));
            Assert.All(lines.Where(l => l[0] == '+'), l => Assert.Contains(l[1..], offeredGroup));

            // A jail file that became a symbolic link (to a file of the jail host) is not read through.
            var motd = Path.Combine(run.JailRoot, "etc/motd");
            File.Move(motd, motd + ".kept");
            File.CreateSymbolicLink(motd, "/etc/hostname");
            try
            {
                var linked = (await client.GetFromJsonAsync<JsonObject>($"api/v1/instances/{id}/approval/diffs"))!["files"]!.AsArray();
                var motdDiff = (string)linked.Single(f => (string)f!["path"]! == "etc/motd")!["diff"]!;
                Assert.Equal($"jailwf: {motd} is a symbolic link inside the jail root; refusing to follow it\n", motdDiff);
            }
            finally
            {
                File.Delete(motd);
                File.Move(motd + ".kept", motd);
            }

            // The browser shows them: one block per file, with the lines the jail would lose.
            var shown = page.GetByTestId("diff-etc/group");
            await Expect(shown).ToBeVisibleAsync();
            await Expect(shown.Locator("tr.diff-del").First).ToContainTextAsync(lines.First(l => l[0] == '-')[1..]);
            await Expect(page.GetByTestId($"waiting-{id}")).ToBeVisibleAsync(new() { Timeout = 15_000 }); // the list polls every 5 s
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = BrowserSession.ScreenshotPath("instance.png") });

            // Approve from the browser with a reason; the instance goes on and ends, every step done (the cutover skipped).
            const string Reason = "browser e2e: the lab server's accounts, motd and mail aliases are kept";
            await page.GetByTestId("reason-input").FillAsync(Reason);
            await page.GetByTestId("action-approve").ClickAsync();
            await Expect(detail).ToHaveAttributeAsync("data-state", "complete", UntilApproval);
            await Expect(page.GetByTestId("step-mergeetc")).ToHaveAttributeAsync("data-state", "done");
            await Expect(page.GetByTestId("step-verify")).ToHaveAttributeAsync("data-state", "done");
            await Expect(page.GetByTestId("approval")).ToHaveCountAsync(0);

            var journal = (JsonArray)(await client.GetFromJsonAsync<JsonObject>($"api/v1/instances/{id}/journal?max=1000"))!["entries"]!;
            Assert.Contains(journal, e => ((string?)e!["message"])?.StartsWith("approved by ", StringComparison.Ordinal) == true && ((string)e["message"]!).EndsWith($"(reason: {Reason})", StringComparison.Ordinal));
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"api/v1/instances/{id}/approval/diffs")).StatusCode);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            Assert.Contains("ServerC", await http.GetStringAsync(new Uri("http://127.0.20.120/")), StringComparison.Ordinal);
        }
        finally
        {
            await run.StopJailAsync();
        }
    }
}
