using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using JailWorkflows.Server;
using JailWorkflows.Tests.Support;
using Microsoft.Playwright;

namespace JailWorkflows.Tests.Browser;

/// <summary>
/// A real <c>jailwf serve</c> process (its own database, an ephemeral loopback port, the built designer from
/// <c>designer/dist</c>) and Debian's chromium, headless, driven by Playwright (no Playwright browser download: the browser
/// is <c>/usr/bin/chromium</c>). The page has the API token entered already.
/// </summary>
internal sealed partial class BrowserSession : IAsyncDisposable
{
    public static readonly TimeSpan ServeTimeout = TimeSpan.FromMinutes(1);

    public const string Chromium = "/usr/bin/chromium";

    private readonly Jailwf _serve;
    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;

    private BrowserSession(Jailwf serve, Uri baseAddress, string token, IPlaywright playwright, IBrowser browser, IPage page)
    {
        _serve = serve;
        BaseAddress = baseAddress;
        Token = token;
        _playwright = playwright;
        _browser = browser;
        Page = page;
    }

    public Uri BaseAddress { get; }

    public string Token { get; }

    public IPage Page { get; }

    public Jailwf Serve => _serve;

    /// <summary>The repository's root (where JailWorkflows.sln is).</summary>
    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "JailWorkflows.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException("JailWorkflows.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>
    /// Where the tests write their screenshots: the README's, in designer/screenshots, when JAILWF_UPDATE_SCREENSHOTS=1;
    /// otherwise beside the test binaries, so a test run leaves the working tree as it was.
    /// </summary>
    public static string ScreenshotPath(string name) =>
        Path.Combine(
            Directory.CreateDirectory(Environment.GetEnvironmentVariable("JAILWF_UPDATE_SCREENSHOTS") == "1"
                ? Path.Combine(RepositoryRoot, "designer", "screenshots")
                : Path.Combine(AppContext.BaseDirectory, "screenshots")).FullName,
            name);

    private static readonly SemaphoreSlim Installing = new(1, 1);

    /// <summary>Installs Debian's chromium when it is missing (as the lab installs its packages), once per test run.</summary>
    private static async Task EnsureChromiumAsync()
    {
        await Installing.WaitAsync();
        try
        {
            if (!File.Exists(Chromium))
            {
                string[][] steps = [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]];
                foreach (var argv in steps)
                {
                    var result = await JailWorkflows.Tests.Lab.Local.RunAsync("env", ["DEBIAN_FRONTEND=noninteractive", .. argv], TimeSpan.FromMinutes(15));
                    Assert.True(result.ExitCode == 0, $"{string.Join(' ', argv)} failed ({Chromium} is missing): {result}");
                }
            }
        }
        finally
        {
            Installing.Release();
        }

        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: apt-get install -y chromium");
    }

    /// <summary>Starts serve on <paramref name="database"/> with <paramref name="workflows"/>, then chromium on its designer with the token entered.</summary>
    public static async Task<BrowserSession> StartAsync(string database, string workflows)
    {
        var designer = Path.Combine(RepositoryRoot, "designer", "dist");
        Assert.True(File.Exists(Path.Combine(designer, "index.html")), $"{designer}/index.html is missing: build the designer first (cd designer && npm ci && npm run build)");
        await EnsureChromiumAsync();
        var serve = Jailwf.Start("serve", "--db", database, "--workflows", workflows, "--poll", "0.3", "--urls", "http://127.0.0.1:0", "--designer", designer);
        try
        {
            var address = await Wait.UntilAsync(
                () =>
                {
                    Assert.False(serve.HasExited, $"serve exited: {serve.StdErr}{serve.StdOut}");
                    var match = ApiAddress().Match(serve.StdOut);
                    return Task.FromResult(match.Success ? match.Groups[1].Value : null);
                },
                ServeTimeout,
                "serve's HTTP API address in its log");
            var token = (await File.ReadAllTextAsync(ServeOptions.TokenPathOf(database))).Trim();
            var playwright = await Playwright.CreateAsync();
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = Chromium,
                Headless = true,
                Args = ["--no-sandbox"],
            });
            var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
            var page = await context.NewPageAsync();
            page.SetDefaultTimeout(30_000);
            var session = new BrowserSession(serve, new Uri(address + "/"), token, playwright, browser, page);
            await page.GotoAsync(session.BaseAddress.ToString());
            await page.GetByTestId("token-input").FillAsync(token);
            await page.GetByTestId("token-submit").ClickAsync();
            await Assertions.Expect(page.GetByTestId("nav-designer")).ToBeVisibleAsync();
            return session;
        }
        catch
        {
            serve.Kill();
            serve.Dispose();
            throw;
        }
    }

    /// <summary>A client of the API with the token.</summary>
    public HttpClient Client()
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = ServeTimeout };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
        _serve.Terminate();
        await _serve.WaitAsync(ServeTimeout);
        _serve.Dispose();
    }

    [GeneratedRegex(@"HTTP API on (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ApiAddress();
}
