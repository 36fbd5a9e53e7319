using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using JailWorkflows.Engine;
using JailWorkflows.Server;
using JailWorkflows.Tests.Support;

namespace JailWorkflows.Tests.Server;

/// <summary>
/// A real <c>jailwf serve</c> host in this process (engine on a temporary SQLite file, Quartz, control socket, HTTP API on an
/// ephemeral loopback port), with a definitions directory holding <c>wait</c> v1: one WaitForWindow step whose window opens
/// in two hours, so an instance of it stays running (sleeping) and touches no host. Shared by the tests of a class.
/// </summary>
public sealed class ApiFixture : IAsyncLifetime
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly CancellationTokenSource _stop = new();
    private Task? _serve;

    public string Dir { get; } = Directory.CreateTempSubdirectory("jailwf-api-").FullName;

    public string Database => Path.Combine(Dir, "jailwf.db");

    public Uri BaseAddress { get; private set; } = null!;

    public string Token { get; private set; } = string.Empty;

    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web);

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
        var workflows = Directory.CreateDirectory(Path.Combine(Dir, "workflows")).FullName;
        await File.WriteAllTextAsync(Path.Combine(workflows, "wait.json"), WaitDefinition);
        var designer = Directory.CreateDirectory(Path.Combine(Dir, "designer")).FullName;
        await File.WriteAllTextAsync(Path.Combine(designer, "index.html"), "<!doctype html><title>jailwf designer</title>");
        var started = new TaskCompletionSource<IReadOnlyList<string>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new ServeOptions
        {
            Engine = new EngineOptions { DatabasePath = Database, WorkflowsDirectory = workflows, StorePollInterval = TimeSpan.FromMilliseconds(200) },
            SchedulerName = "api-" + Guid.NewGuid().ToString("N"),
            SchedulerIdleWait = TimeSpan.FromSeconds(1),
            Urls = ["http://127.0.0.1:0"],
            DesignerPath = designer,
            ApiStarted = addresses => started.TrySetResult(addresses),
        };
        _serve = Task.Run(() => JailwfServer.RunAsync(options, _stop.Token));
        var first = await Task.WhenAny(started.Task, _serve).WaitAsync(Deadline);
        if (first == _serve)
        {
            await _serve; // throws what stopped serve
            throw new InvalidOperationException("serve ended before its API listened");
        }

        BaseAddress = new Uri(Assert.Single(await started.Task));
        Token = (await File.ReadAllTextAsync(ServeOptions.TokenPathOf(Database))).Trim();
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_serve is not null)
        {
            await _serve.WaitAsync(Deadline);
        }

        _stop.Dispose();
        Directory.Delete(Dir, recursive: true);
    }

    /// <summary>A client of the API; with the token unless <paramref name="token"/> says otherwise ("" for none).</summary>
    public HttpClient Client(string? token = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = Deadline };
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
}
