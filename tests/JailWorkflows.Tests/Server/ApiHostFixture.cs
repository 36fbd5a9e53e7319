using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using JailWorkflows.Engine;
using JailWorkflows.Server;
using JailWorkflows.Tests.Support;

namespace JailWorkflows.Tests.Server;

/// <summary>
/// What the API tests share, whichever host answers them (<see cref="ApiFixture"/>: WebApplicationFactory's TestServer;
/// <see cref="ServeFixture"/>: a real serve on a loopback port): a temporary directory with the database, a definitions
/// directory holding <c>wait</c> v1 (one WaitForWindow step whose window opens in two hours, so an instance of it stays
/// running, sleeping, and touches no host) and a stand-in for the designer's built files; serve's options on them.
/// </summary>
public abstract class ApiHostFixture : IAsyncLifetime
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    protected ApiHostFixture()
    {
        var workflows = Directory.CreateDirectory(Path.Combine(Dir, "workflows")).FullName;
        File.WriteAllText(Path.Combine(workflows, "wait.json"), WaitDefinition);
        var designer = Directory.CreateDirectory(Path.Combine(Dir, "designer")).FullName;
        File.WriteAllText(Path.Combine(designer, "index.html"), "<!doctype html><title>jailwf designer</title>");
        Options = new ServeOptions
        {
            Engine = new EngineOptions { DatabasePath = Path.Combine(Dir, "jailwf.db"), WorkflowsDirectory = workflows, StorePollInterval = TimeSpan.FromMilliseconds(200) },
            SchedulerName = "api-" + Guid.NewGuid().ToString("N"),
            SchedulerIdleWait = TimeSpan.FromSeconds(1),
            Urls = ["http://127.0.0.1:0"],
            DesignerPath = designer,
        };
    }

    public string Dir { get; } = Directory.CreateTempSubdirectory("jailwf-api-").FullName;

    public ServeOptions Options { get; }

    public string Database => Options.DatabasePath;

    /// <summary>The token as serve keeps it in <c>&lt;db&gt;.token</c>; read once the host is up.</summary>
    public string Token { get; private set; } = string.Empty;

    /// <summary>The text of <c>wait</c> v1 as written to the definitions directory.</summary>
    public static string WaitDefinition
    {
        get
        {
            var opens = DateTime.UtcNow.AddHours(2);
            return $$"""
                { "id": "wait", "version": 1, "title": "Wait for the window",
                  "steps": [ { "id": "window", "activity": "WaitForWindow", "inputs": { "start": "{{opens:HH:mm}}", "end": "{{opens.AddHours(1):HH:mm}}", "timeZone": "UTC" } } ] }
                """;
        }
    }

    public async Task InitializeAsync()
    {
        await StartHostAsync();
        Token = (await File.ReadAllTextAsync(ServeOptions.TokenPathOf(Database))).Trim();
    }

    public async Task DisposeAsync()
    {
        await StopHostAsync();
        Directory.Delete(Dir, recursive: true);
    }

    /// <summary>A client of the API; with the token unless <paramref name="token"/> says otherwise ("" for none).</summary>
    public HttpClient Client(string? token = null)
    {
        var client = CreateClient();
        client.Timeout = Deadline;
        token ??= Token;
        if (token.Length > 0)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    /// <summary>Starts an instance of <c>wait</c> for ServerA in its own jail (one instance per jail) and waits until its step sleeps until the window opens.</summary>
    public async Task<string> StartWaitAsync(HttpClient client, string jail, int? version = null)
    {
        var response = await client.PostAsJsonAsync("api/v1/instances", new { definition = "wait", version, plan = LocalPlans.Yaml(Dir, jailName: jail) });
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var id = (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["instances"]![0]!;
        await Wait.UntilAsync(
            async () => (await JournalAsync(client, id)).Any(e => ((string?)e!["message"])?.StartsWith("waiting for the maintenance window", StringComparison.Ordinal) == true),
            Deadline,
            "the instance's step to wait for its window");
        return id;
    }

    /// <summary>Every journal entry of an instance.</summary>
    public static async Task<JsonArray> JournalAsync(HttpClient client, string id) =>
        (JsonArray)(await client.GetFromJsonAsync<JsonObject>($"api/v1/instances/{id}/journal?max=1000"))!["entries"]!;

    /// <summary>Starts the engine and the API on <see cref="Options"/> (the token file exists afterwards).</summary>
    protected abstract Task StartHostAsync();

    /// <summary>Stops what <see cref="StartHostAsync"/> started.</summary>
    protected abstract Task StopHostAsync();

    /// <summary>A client of the API without a token.</summary>
    protected abstract HttpClient CreateClient();
}
