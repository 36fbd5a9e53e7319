using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace JailWorkflows.Tests.Browser;

/// <summary>The designer in Debian's chromium against a real <c>jailwf serve</c>: build, save as new versions, reload.</summary>
public sealed class DesignerBrowserTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("jailwf-browser-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_workflow_built_from_the_palette_is_saved_as_new_versions_and_listed_after_a_reload()
    {
        var workflows = Directory.CreateDirectory(Path.Combine(_dir, "workflows")).FullName;
        await using var session = await BrowserSession.StartAsync(Path.Combine(_dir, "jailwf.db"), workflows);
        var page = session.Page;
        await page.GetByTestId("nav-designer").ClickAsync();
        await page.GetByTestId("new-button").ClickAsync();
        await page.GetByTestId("definition-id").FillAsync("browser-made");
        await page.GetByTestId("definition-title").FillAsync("Made in the browser");

        // Two steps from the palette's + buttons: each is added after the last one (a chain) and selected.
        await page.GetByTestId("palette-add-Preflight").ClickAsync();
        await Expect(page.GetByTestId("node-preflight")).ToBeVisibleAsync();
        await page.GetByTestId("palette-add-MergeEtc").ClickAsync();
        await Expect(page.GetByTestId("node-merge-etc")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("property-step-id")).ToHaveValueAsync("merge-etc");
        await page.GetByTestId("property-title").FillAsync("Merge /etc, short watchdog");
        await page.GetByTestId("property-form").Locator("#root_watchdogSeconds").FillAsync("120");
        await Expect(page.GetByTestId("validity")).ToHaveTextAsync("valid");

        // A step dragged from the palette lands where it is dropped, unconnected: the designer refuses to save it
        // (a step off the chain) until it is deleted again.
        await page.GetByTestId("palette-VerifyJail").DragToAsync(page.GetByTestId("canvas"), new() { TargetPosition = new() { X = 120, Y = 80 } });
        await Expect(page.GetByTestId("node-verify-jail")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("node-verify-jail")).ToHaveAttributeAsync("data-invalid", "true");
        await Expect(page.GetByTestId("save-button")).ToBeDisabledAsync();
        await page.GetByTestId("delete-step-button").ClickAsync();
        await Expect(page.GetByTestId("node-verify-jail")).ToHaveCountAsync(0);
        await Expect(page.GetByTestId("validity")).ToHaveTextAsync("valid");

        await page.GetByTestId("save-button").ClickAsync();
        await Expect(page.GetByTestId("designer-message")).ToHaveTextAsync("Saved browser-made as version 1");

        // A change saved again is version 2; version 1 stays as it was.
        await page.GetByTestId("definition-title").FillAsync("Made in the browser, second version");
        await page.GetByTestId("save-button").ClickAsync();
        await Expect(page.GetByTestId("designer-message")).ToHaveTextAsync("Saved browser-made as version 2");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = BrowserSession.ScreenshotPath("designer.png") });

        using var client = session.Client();
        var v1 = (await client.GetFromJsonAsync<JsonObject>("api/v1/definitions/browser-made/versions/1"))!;
        var v2 = (await client.GetFromJsonAsync<JsonObject>("api/v1/definitions/browser-made"))!;
        Assert.Equal("Made in the browser", (string?)v1["title"]);
        Assert.Equal(2, (int)v2["version"]!);
        Assert.Equal("Made in the browser, second version", (string?)v2["title"]);
        var steps = v2["steps"]!.AsArray();
        Assert.Equal(["preflight", "merge-etc"], steps.Select(s => (string)s!["id"]!));
        Assert.Equal(["Preflight", "MergeEtc"], steps.Select(s => (string)s!["activity"]!));
        Assert.Equal(120, (int)steps[1]!["inputs"]!["watchdogSeconds"]!);
        Assert.Equal("Merge /etc, short watchdog", (string?)steps[1]!["title"]);

        // After a reload (the token is kept for the tab) the definition is listed with its newest version and opens.
        await page.ReloadAsync();
        await page.GetByTestId("nav-designer").ClickAsync();
        await Expect(page.GetByTestId("definition-select").Locator("option", new() { HasText = "browser-made (v2)" })).ToHaveCountAsync(1);
        await page.GetByTestId("definition-select").SelectOptionAsync("browser-made");
        await Expect(page.GetByTestId("designer-message")).ToHaveTextAsync("Loaded browser-made version 2");
        await Expect(page.GetByTestId("definition-title")).ToHaveValueAsync("Made in the browser, second version");
        await Expect(page.GetByTestId("node-preflight")).ToBeVisibleAsync();
        await page.GetByTestId("node-merge-etc").ClickAsync();
        await Expect(page.GetByTestId("property-form").Locator("#root_watchdogSeconds")).ToHaveValueAsync("120");
    }
}
