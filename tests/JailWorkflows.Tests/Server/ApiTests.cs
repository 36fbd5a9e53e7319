using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using JailWorkflows.Tests.Support;

namespace JailWorkflows.Tests.Server;

/// <summary>
/// The HTTP API of <c>jailwf serve</c> (docs/api.md) through WebApplicationFactory (<see cref="ApiFixture"/>: serve's API host
/// on the in-memory TestServer, a real engine behind it). What needs a real socket is in <see cref="ServeApiTests"/>.
/// </summary>
public sealed class ApiTests(ApiFixture serve) : IClassFixture<ApiFixture>
{
    [Fact]
    public async Task Every_endpoint_of_every_group_refuses_a_request_without_or_with_a_wrong_token_and_nothing_changes()
    {
        using var client = serve.Client();
        var instance = await serve.StartWaitAsync(client, "apiauth");
        var added = await client.PostAsJsonAsync("api/v1/schedules", new { definition = "wait", plan = LocalPlans.Yaml(serve.Dir, jailName: "apiauthsched"), cron = NeverCron });
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        var schedule = (string)(await added.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        var before = await StateAsync(client, instance);
        var engineBefore = (await serve.Engine.Queries.ListAsync()).Select(v => v.Id).Order(StringComparer.Ordinal).ToList();

        var wrongToken = serve.Token[..^1] + (serve.Token[^1] == 'A' ? 'B' : 'A');
        foreach (var (authorization, title, challenge) in new (string?, string, string)[]
        {
            (null, "Token required", "Bearer"),
            ("Bearer " + wrongToken, "Wrong token", "Bearer error=\"invalid_token\""),
            ("Bearer", "Wrong token", "Bearer error=\"invalid_token\""),
            ("Basic " + serve.Token, "Wrong token", "Bearer error=\"invalid_token\""),
        })
        {
            using var refused = serve.Client(token: string.Empty);
            foreach (var (method, path, body) in Endpoints(serve, instance, schedule))
            {
                using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
                if (authorization is not null)
                {
                    request.Headers.TryAddWithoutValidation("Authorization", authorization);
                }

                using var response = await refused.SendAsync(request);
                var what = $"{method} {path} with {authorization ?? "no Authorization"}";
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{what}: {(int)response.StatusCode}");
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.Equal(challenge, string.Join(", ", response.Headers.GetValues("WWW-Authenticate")));
                var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
                Assert.Equal(401, (int)problem["status"]!);
                Assert.Equal("unauthorized", (string?)problem["kind"]);
                Assert.True(title == (string?)problem["title"], $"{what}: {problem.ToJsonString()}");
            }
        }

        // Nothing was stored, started, decided, paused or removed by the refused requests.
        Assert.Equal(before, await StateAsync(client, instance));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("api/v1/definitions/sneaky")).StatusCode);
        Assert.Equal(engineBefore, (await serve.Engine.Queries.ListAsync()).Select(v => v.Id).Order(StringComparer.Ordinal));

        // The same requests with the token are answered.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/v1/activities")).StatusCode);
        Assert.Contains("/api/v1/definitions/validate", await client.GetStringAsync("openapi/v1.json"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"api/v1/schedules/{schedule}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync($"api/v1/instances/{instance}/abort", new { reason = "test done" })).StatusCode);
    }

    [Fact]
    public async Task A_host_name_that_is_not_loopback_is_refused_token_or_not_while_the_designer_files_need_no_token()
    {
        var instances = (await serve.Engine.Queries.ListAsync()).Count;
        foreach (var foreign in new[] { "evil.example", "evil.example:5080", "localhost.evil.example", "10.0.0.1", "[fe80::1]" })
        {
            // A page of another site whose name resolves to 127.0.0.1 (DNS rebinding) sends its own name as Host.
            using var rebound = serve.ClientFor(foreign);
            foreach (var path in new[] { "api/v1/definitions", "/", "openapi/v1.json" })
            {
                var answer = await rebound.GetAsync(path);
                Assert.True(answer.StatusCode == HttpStatusCode.BadRequest, $"{foreign} {path}: {(int)answer.StatusCode}");
                var problem = (await answer.Content.ReadFromJsonAsync<JsonObject>())!;
                Assert.Equal("Host not allowed", (string?)problem["title"]);
                Assert.Contains("not a loopback", (string?)problem["detail"], StringComparison.Ordinal);
            }

            var start = await rebound.PostAsJsonAsync("api/v1/instances", new { definition = "wait", plan = LocalPlans.Yaml(serve.Dir, jailName: "apirebound") });
            Assert.Equal(HttpStatusCode.BadRequest, start.StatusCode);
        }

        Assert.Equal(instances, (await serve.Engine.Queries.ListAsync()).Count);
        foreach (var loopback in new[] { "localhost", "127.0.0.1:5080", "127.1.2.3", "[::1]", "designer.localhost" })
        {
            using var near = serve.ClientFor(loopback);
            Assert.Equal(HttpStatusCode.OK, (await near.GetAsync("api/v1/activities")).StatusCode);
        }

        using var none = serve.Client(token: string.Empty);
        Assert.Contains("jailwf designer", await none.GetStringAsync("/"), StringComparison.Ordinal);
        Assert.Contains("jailwf designer", await none.GetStringAsync("/instances/0123456789abcdef"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_catalog_shows_each_activity_with_its_input_schema_recovery_retry_and_dependencies()
    {
        using var client = serve.Client();
        var catalog = (await client.GetFromJsonAsync<JsonArray>("api/v1/activities"))!;
        var window = catalog.Single(a => (string?)a!["name"] == "WaitForWindow")!;
        Assert.Equal("rerun", (string?)window["recovery"]);
        Assert.Equal(["start", "end"], window["inputSchema"]!["required"]!.AsArray().Select(r => (string)r!));
        Assert.Equal(1, (int)window["retry"]!["maxAttempts"]!);
        var transfer = catalog.Single(a => (string?)a!["name"] == "TransferPartitions")!;
        Assert.Equal("probeFirst", (string?)transfer["recovery"]);
        Assert.Equal(["jail-tree"], transfer["produces"]!.AsArray().Select(r => (string)r!));
        Assert.Equal(30, (double)transfer["retry"]!["backoffSeconds"]!);
        Assert.Contains("dump", (string?)transfer["description"], StringComparison.Ordinal);
        Assert.Equal("integer", (string?)transfer["inputSchema"]!["properties"]!["dumpLevel"]!["type"]);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("api/v1/activities/NoSuchThing")).StatusCode);
    }

    [Fact]
    public async Task An_invalid_graph_is_answered_with_every_problem_naming_its_node_or_edge_and_nothing_is_stored()
    {
        using var client = serve.Client();
        var graph = new
        {
            id = "broken",
            title = "Broken",
            steps = new object[]
            {
                new { id = "a", activity = "Preflight" },
                new { id = "b", activity = "NoSuchActivity" },
                new { id = "c", activity = "WaitForWindow", inputs = new { end = "06:00" } },
                new { id = "d", activity = "TransferPartitions", inputs = new { dumpLevel = 3 } },
            },
            edges = new[]
            {
                new { from = "a", to = "b" },
                new { from = "b", to = "c" },
                new { from = "c", to = "a" },
                new { from = "c", to = "ghost" },
                new { from = "d", to = "a" },
            },
        };
        foreach (var path in new[] { "api/v1/definitions/validate", "api/v1/definitions" })
        {
            var response = await client.PostAsJsonAsync(path, graph);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
            var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
            Assert.Equal("Invalid workflow definition", (string?)problem["title"]);
            var problems = problem["problems"]!.AsArray().Select(p => (Code: (string)p!["code"]!, Field: (string)p["field"]!, Node: (string?)p["node"], Edge: (int?)p["edge"], Message: (string)p["message"]!)).ToList();
            Assert.Contains(problems, p => p is { Code: "unknown-activity", Field: "steps[1].activity", Node: "b" } && p.Message.Contains("NoSuchActivity", StringComparison.Ordinal));
            Assert.Contains(problems, p => p is { Code: "missing-input", Field: "steps[2].inputs.start", Node: "c" });
            Assert.Contains(problems, p => p is { Code: "invalid-input", Node: "d" } && p.Field.StartsWith("steps[3].inputs", StringComparison.Ordinal));
            Assert.Contains(problems, p => p is { Code: "cycle", Edge: 2, Node: "a" });
            Assert.Contains(problems, p => p is { Code: "dangling-edge", Field: "edges[3].to", Edge: 3 } && p.Message.Contains("ghost", StringComparison.Ordinal));
            Assert.DoesNotContain(problems, p => p.Code is "join" or "unjoined-branch"); // a cyclic graph has no fork/join shape to judge
            Assert.DoesNotContain(problems, p => p.Code == "schema");
            var errors = problem["errors"]!.AsObject();
            Assert.True(errors.ContainsKey("steps[2].inputs.start") && errors.ContainsKey("edges[3].to"), errors.ToJsonString());
        }

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("api/v1/definitions/broken")).StatusCode);
        Assert.DoesNotContain((await client.GetFromJsonAsync<JsonArray>("api/v1/definitions"))!, d => (string?)d!["id"] == "broken");
    }

    [Fact]
    public async Task A_fork_and_join_graph_is_valid_saves_with_after_lists_and_reads_back_with_its_edges()
    {
        using var client = serve.Client();

        // preflight -> { buildworld | transfer -> strip } -> installworld, listed out of order and with edges in any order.
        var graph = new
        {
            id = "forked",
            steps = new[]
            {
                new { id = "installworld", activity = "InstallWorld" },
                new { id = "strip", activity = "Strip" },
                new { id = "preflight", activity = "Preflight" },
                new { id = "buildworld", activity = "BuildWorld" },
                new { id = "transfer", activity = "TransferPartitions" },
            },
            edges = new[]
            {
                new { from = "strip", to = "installworld" },
                new { from = "preflight", to = "transfer" },
                new { from = "buildworld", to = "installworld" },
                new { from = "transfer", to = "strip" },
                new { from = "preflight", to = "buildworld" },
            },
        };
        var valid = await client.PostAsJsonAsync("api/v1/definitions/validate", graph);
        Assert.Equal(HttpStatusCode.OK, valid.StatusCode);
        var order = (await valid.Content.ReadFromJsonAsync<JsonObject>())!["steps"]!.AsArray().Select(s => (string)s!).ToList();
        Assert.Equal("preflight", order[0]);
        Assert.Equal("installworld", order[^1]);
        Assert.True(order.IndexOf("transfer") < order.IndexOf("strip"));

        var saved = await client.PostAsJsonAsync("api/v1/definitions", graph);
        Assert.Equal(HttpStatusCode.Created, saved.StatusCode);
        var stored = (await client.GetFromJsonAsync<JsonObject>("api/v1/definitions/forked"))!;
        Assert.Equal(order, stored["steps"]!.AsArray().Select(s => (string)s!["id"]!));
        var edges = stored["edges"]!.AsArray().Select(e => ((string)e!["from"]!, (string)e["to"]!)).ToHashSet();
        Assert.Equal(graph.edges.Select(e => (e.from, e.to)).ToHashSet(), edges);

        // The stored definition names what each step runs after (left out where it is the step before).
        string json;
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={serve.Database};Mode=ReadOnly"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT \"Json\" FROM \"DefinitionVersions\" WHERE \"DefinitionId\" = 'forked'";
            json = (string)(await command.ExecuteScalarAsync())!;
        }

        var document = JailWorkflows.Engine.Definitions.DefinitionLoader.Parse(json, "forked");
        Assert.Equal(["buildworld", "strip"], document.Steps.Single(s => s.Id == "installworld").After.Order(StringComparer.Ordinal));
        Assert.Equal(["preflight"], document.Steps.Single(s => s.Id == "buildworld").After);
        Assert.Equal(["transfer"], document.Steps.Single(s => s.Id == "strip").After);
        var written = JsonNode.Parse(json)!["steps"]!.AsArray().ToDictionary(s => (string)s!["id"]!, s => s!["after"]?.AsArray().Select(a => (string)a!).ToList());
        Assert.Null(written["preflight"]);
        Assert.NotNull(written["installworld"]);
    }

    [Fact]
    public async Task Graphs_that_are_not_structured_fork_join_are_refused_naming_the_step_and_a_chain_validates_to_its_order()
    {
        using var client = serve.Client();

        // A branch that ends while the other goes on.
        var open = await ProblemsAsync(client, new
        {
            id = "open-branch",
            steps = new[] { new { id = "a", activity = "Strip" }, new { id = "b", activity = "Strip" }, new { id = "c", activity = "Strip" }, new { id = "d", activity = "Strip" } },
            edges = new[] { new { from = "a", to = "b" }, new { from = "a", to = "c" }, new { from = "c", to = "d" } },
        });
        var unjoined = Assert.Single(open);
        Assert.Equal(("unjoined-branch", "steps[1]", "b"), (unjoined.Code, unjoined.Field, unjoined.Node));
        Assert.StartsWith("no step runs after step 'b', but the definition goes on to 'd'", unjoined.Message, StringComparison.Ordinal);

        // A join of branches of different forks: s -> { a -> { c | d } | b }, d after a and b.
        var crossed = await ProblemsAsync(client, new
        {
            id = "crossed",
            steps = new[] { "s", "a", "b", "c", "d", "e" }.Select(id => new { id, activity = "Strip" }).ToArray(),
            edges = new[] { ("s", "a"), ("s", "b"), ("a", "c"), ("a", "d"), ("b", "d"), ("c", "e"), ("d", "e") }.Select(e => new { from = e.Item1, to = e.Item2 }).ToArray(),
        });
        var join = Assert.Single(crossed);
        Assert.Equal(("join", "steps[4]", "d"), (join.Code, join.Field, join.Node));
        Assert.Contains("lie in different branches of the fork 's'", join.Message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("api/v1/definitions/crossed")).StatusCode);

        var chain = await client.PostAsJsonAsync("api/v1/definitions/validate", new
        {
            id = "chain",
            steps = new[] { new { id = "c", activity = "StartJail" }, new { id = "a", activity = "Strip" }, new { id = "b", activity = "InstallWorld" } },
            edges = new[] { new { from = "b", to = "c" }, new { from = "a", to = "b" } },
        });
        Assert.Equal(HttpStatusCode.OK, chain.StatusCode);
        Assert.Equal(["a", "b", "c"], (await chain.Content.ReadFromJsonAsync<JsonObject>())!["steps"]!.AsArray().Select(s => (string)s!));
    }

    private static async Task<List<(string Code, string Field, string? Node, string Message)>> ProblemsAsync(HttpClient client, object graph)
    {
        foreach (var path in new[] { "api/v1/definitions/validate", "api/v1/definitions" })
        {
            var response = await client.PostAsJsonAsync(path, graph);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        }

        var answer = await client.PostAsJsonAsync("api/v1/definitions/validate", graph);
        var problem = (await answer.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("application/problem+json", answer.Content.Headers.ContentType?.MediaType);
        return problem["problems"]!.AsArray().Select(p => ((string)p!["code"]!, (string)p["field"]!, (string?)p["node"], (string)p["message"]!)).ToList();
    }

    [Fact]
    public async Task Saving_makes_the_next_version_usable_at_once_and_never_changes_a_stored_version()
    {
        using var client = serve.Client();
        var before = await client.GetStringAsync("api/v1/definitions/wait/versions/1");
        var pinnedBefore = (int)JsonNode.Parse(before)!["instances"]!; // other tests of this class start instances of v1 too
        var pinned = await serve.StartWaitAsync(client, "apiv1");
        var v1 = (await client.GetFromJsonAsync<JsonObject>("api/v1/definitions/wait/versions/1"))!;
        Assert.Equal(pinnedBefore + 1, (int)v1["instances"]!);

        // A refused save (invalid graph) stores no version.
        var invalid = v1.DeepClone().AsObject();
        invalid["steps"]!.AsArray().Add(new JsonObject { ["id"] = "ghost", ["activity"] = "NoSuchActivity" });
        invalid["baseVersion"] = 1;
        var refusedSave = await client.PostAsJsonAsync("api/v1/definitions", invalid);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refusedSave.StatusCode);
        Assert.Equal("application/problem+json", refusedSave.Content.Headers.ContentType?.MediaType);
        Assert.Equal([1], await VersionsAsync(client, "wait"));

        // The designer loads v1, adds a step, saves: version 2; v1 and its instance stay as they were.
        var steps = v1["steps"]!.AsArray();
        steps.Add(new JsonObject { ["id"] = "strip", ["activity"] = "Strip", ["position"] = new JsonObject { ["x"] = 10, ["y"] = 20 } });
        v1["edges"]!.AsArray().Add(new JsonObject { ["from"] = "window", ["to"] = "strip" });
        v1["baseVersion"] = 1;
        var saved = await client.PostAsJsonAsync("api/v1/definitions", v1);
        Assert.Equal(HttpStatusCode.Created, saved.StatusCode);
        Assert.Equal("/api/v1/definitions/wait/versions/2", saved.Headers.Location?.OriginalString);
        var v2 = (await saved.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(2, (int)v2["version"]!);
        Assert.Equal(["window", "strip"], v2["steps"]!.AsArray().Select(s => (string)s!["id"]!));
        Assert.Equal(2, (int)(await client.GetFromJsonAsync<JsonObject>("api/v1/definitions/wait"))!["version"]!);

        var after = (await client.GetFromJsonAsync<JsonObject>("api/v1/definitions/wait/versions/1"))!;
        var original = JsonNode.Parse(before)!.AsObject();
        Assert.True(JsonNode.DeepEquals(original["steps"], after["steps"]), after.ToJsonString());
        Assert.Equal(1, (int)after["version"]!);
        Assert.Equal(1, (int)(await client.GetFromJsonAsync<JsonObject>($"api/v1/instances/{pinned}"))!["version"]!);

        // No way to change a version: saving on a stale base is refused, and there is no update endpoint.
        var stale = await client.PostAsJsonAsync("api/v1/definitions", v1);
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        var conflict = (await stale.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Contains("version 2 now", (string?)conflict["detail"], StringComparison.Ordinal);
        Assert.Equal("refused", (string?)conflict["kind"]);
        Assert.Equal([1, 2], await VersionsAsync(client, "wait"));
        Assert.Equal(["window", "strip"], (await client.GetFromJsonAsync<JsonObject>("api/v1/definitions/wait/versions/2"))!["steps"]!.AsArray().Select(s => (string)s!["id"]!));
        Assert.False((await client.PutAsJsonAsync("api/v1/definitions/wait/versions/1", v1)).IsSuccessStatusCode);
        Assert.False((await client.DeleteAsync("api/v1/definitions/wait/versions/1")).IsSuccessStatusCode);
        Assert.True(JsonNode.DeepEquals(original["steps"], (await client.GetFromJsonAsync<JsonObject>("api/v1/definitions/wait/versions/1"))!["steps"]));
        Assert.Equal([1, 2], await VersionsAsync(client, "wait"));

        // The new version runs without a restart.
        var onV2 = await serve.StartWaitAsync(client, "apiv2", version: 2);
        var view = (await client.GetFromJsonAsync<JsonObject>($"api/v1/instances/{onV2}"))!;
        Assert.Equal(2, (int)view["version"]!);
        Assert.Equal(2, view["steps"]!.AsArray().Count);
        var list = (await client.GetFromJsonAsync<JsonArray>("api/v1/definitions"))!.Single(d => (string?)d!["id"] == "wait")!;
        Assert.Equal(2, (int)list["latestVersion"]!);

        foreach (var id in new[] { pinned, onV2 })
        {
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync($"api/v1/instances/{id}/abort", new { reason = "test done" })).StatusCode);
        }
    }

    [Fact]
    public async Task An_action_that_does_not_fit_the_instance_state_is_a_409_problem_and_changes_nothing()
    {
        using var client = serve.Client();
        var id = await serve.StartWaitAsync(client, "apistate");
        var journal = (await ApiFixture.JournalAsync(client, id)).Count;

        foreach (var action in new[] { "retry", "skip", "approve" })
        {
            var response = await client.PostAsJsonAsync($"api/v1/instances/{id}/{action}", new { reason = "trying" });
            Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
            var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
            Assert.Equal("refused", (string?)problem["kind"]);
            Assert.Contains(id, (string?)problem["detail"], StringComparison.Ordinal);
        }

        var noReason = await client.PostAsJsonAsync($"api/v1/instances/{id}/abort", new { reason = " " });
        Assert.Equal(HttpStatusCode.BadRequest, noReason.StatusCode);
        Assert.Contains("reason", (string?)(await noReason.Content.ReadFromJsonAsync<JsonObject>())!["detail"], StringComparison.Ordinal);
        Assert.Equal(journal, (await ApiFixture.JournalAsync(client, id)).Count);
        Assert.Equal("running", (string?)(await client.GetFromJsonAsync<JsonObject>($"api/v1/instances/{id}"))!["state"]);

        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsJsonAsync("api/v1/instances/0000000000000000/retry", new { reason = "x" })).StatusCode);

        // No approval pending: no differences to show (404 "not-found" naming the instance); nothing changed.
        var diffs = await client.GetAsync($"api/v1/instances/{id[..8]}/approval/diffs");
        Assert.Equal(HttpStatusCode.NotFound, diffs.StatusCode);
        var notWaiting = (await diffs.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("not-found", (string?)notWaiting["kind"]);
        Assert.Equal($"Instance {id} waits for no approval.", (string?)notWaiting["detail"]);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("api/v1/instances/0000000000000000/approval/diffs")).StatusCode);
        Assert.Equal(journal, (await ApiFixture.JournalAsync(client, id)).Count);
        var badPlan = await client.PostAsJsonAsync("api/v1/instances", new { definition = "wait", plan = "jailHost: [unclosed" });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, badPlan.StatusCode);
        Assert.True((await badPlan.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsObject().ContainsKey("plan"));
        var filtered = (await client.GetFromJsonAsync<JsonArray>("api/v1/instances?state=running&definition=wait"))!;
        Assert.Contains(filtered, v => (string?)v!["id"] == id);
        Assert.Empty((await client.GetFromJsonAsync<JsonArray>("api/v1/instances?state=complete&definition=wait"))!);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("api/v1/instances?state=sleepy")).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync($"api/v1/instances/{id}/abort", new { reason = "test done" })).StatusCode);
        var aborted = (await ApiFixture.JournalAsync(client, id)).Count;
        foreach (var action in new[] { "abort", "retry", "skip", "approve", "resume" })
        {
            var late = await client.PostAsJsonAsync($"api/v1/instances/{id}/{action}", new { reason = "again" });
            Assert.True(late.StatusCode == HttpStatusCode.Conflict, $"{action} on an aborted instance: {(int)late.StatusCode}");
            Assert.Equal("application/problem+json", late.Content.Headers.ContentType?.MediaType);
        }

        Assert.Equal(aborted, (await ApiFixture.JournalAsync(client, id)).Count);
        Assert.Equal("aborted", (string?)(await client.GetFromJsonAsync<JsonObject>($"api/v1/instances/{id}"))!["state"]);
    }

    /// <summary>A Quartz cron expression that never fires while a test runs (02:00 on 1 January 2099).</summary>
    private const string NeverCron = "0 0 2 1 1 ? 2099";

    /// <summary>Every endpoint of every group (health, activities, definitions, instances, decisions, approvals, schedules, events, OpenAPI, unknown paths), with a body that would change something if it were accepted.</summary>
    private static IEnumerable<(HttpMethod Method, string Path, object? Body)> Endpoints(ApiFixture serve, string instance, string schedule)
    {
        var sneaky = new { id = "sneaky", steps = new[] { new { id = "a", activity = "Strip" } } };
        var wait = new { id = "wait", baseVersion = 1, steps = new[] { new { id = "a", activity = "Strip" } } };
        var plan = LocalPlans.Yaml(serve.Dir, jailName: "apisneaky");
        return
        [
            (HttpMethod.Get, "api/v1/health", null),
            (HttpMethod.Get, "api/v1/activities", null),
            (HttpMethod.Get, "api/v1/activities/Strip", null),
            (HttpMethod.Get, "api/v1/definitions", null),
            (HttpMethod.Get, "api/v1/definitions/wait", null),
            (HttpMethod.Get, "api/v1/definitions/wait/versions/1", null),
            (HttpMethod.Post, "api/v1/definitions/validate", sneaky),
            (HttpMethod.Post, "api/v1/definitions", sneaky),
            (HttpMethod.Post, "api/v1/definitions", wait),
            (HttpMethod.Get, "api/v1/instances", null),
            (HttpMethod.Post, "api/v1/instances", new { definition = "wait", plan }),
            (HttpMethod.Get, $"api/v1/instances/{instance}", null),
            (HttpMethod.Get, $"api/v1/instances/{instance}/journal", null),
            (HttpMethod.Get, $"api/v1/instances/{instance}/approval/diffs", null),
            .. new[] { "retry", "skip", "approve", "resume", "abort" }.Select(a => (HttpMethod.Post, $"api/v1/instances/{instance}/{a}", (object?)new { reason = "sneaky" })),
            (HttpMethod.Get, "api/v1/schedules", null),
            (HttpMethod.Post, "api/v1/schedules", new { definition = "wait", plan, cron = "* * * * * ?" }),
            (HttpMethod.Get, $"api/v1/schedules/{schedule}", null),
            (HttpMethod.Get, $"api/v1/schedules/{schedule}/events", null),
            (HttpMethod.Post, $"api/v1/schedules/{schedule}/pause", null),
            (HttpMethod.Post, $"api/v1/schedules/{schedule}/resume", null),
            (HttpMethod.Delete, $"api/v1/schedules/{schedule}", null),
            (HttpMethod.Get, $"api/v1/events?instance={instance}", null),
            (HttpMethod.Get, "openapi/v1.json", null),
            (HttpMethod.Get, "api/v1/no-such-endpoint", null),
            (HttpMethod.Get, "api", null),
        ];
    }

    /// <summary>The versions of a definition as the definition list shows them.</summary>
    private static async Task<List<int>> VersionsAsync(HttpClient client, string id) =>
        (await client.GetFromJsonAsync<JsonArray>("api/v1/definitions"))!.Single(d => (string?)d!["id"] == id)!["versions"]!.AsArray().Select(v => (int)v!["version"]!).ToList();

    /// <summary>What a refused request must not change: the definitions and their versions, the instances and their states, one instance's journal, the schedules.</summary>
    private static async Task<string> StateAsync(HttpClient client, string instance)
    {
        var definitions = (await client.GetFromJsonAsync<JsonArray>("api/v1/definitions"))!
            .Select(d => $"{d!["id"]} v{string.Join(",", d["versions"]!.AsArray().Select(v => (int)v!["version"]!))}");
        var instances = (await client.GetFromJsonAsync<JsonArray>("api/v1/instances"))!
            .Select(v => $"{v!["id"]} {v["state"]}/{v["status"]}").Order(StringComparer.Ordinal);
        var journal = (await ApiFixture.JournalAsync(client, instance)).Select(e => (long)e!["id"]!);
        var schedules = (await client.GetFromJsonAsync<JsonArray>("api/v1/schedules"))!
            .Select(v => $"{v!["id"]} paused={v["paused"]} next={v["nextFire"]}");
        return $"definitions: {string.Join("; ", definitions)}\ninstances: {string.Join("; ", instances)}\njournal of {instance}: {string.Join(",", journal)}\nschedules: {string.Join("; ", schedules)}";
    }
}
