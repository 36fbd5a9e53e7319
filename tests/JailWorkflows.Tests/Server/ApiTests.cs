using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace JailWorkflows.Tests.Server;

/// <summary>The HTTP API of <c>jailwf serve</c> (docs/api.md) through a real serve host on an ephemeral loopback port.</summary>
public sealed class ApiTests(ApiFixture serve) : IClassFixture<ApiFixture>
{
    [Fact]
    public async Task Every_api_request_needs_the_token_and_a_loopback_host_name_while_the_designer_files_do_not()
    {
        using var none = serve.Client(token: string.Empty);
        var refused = await none.GetAsync("api/v1/activities");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Bearer", Assert.Single(refused.Headers.WwwAuthenticate).Scheme);
        var problem = await refused.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("unauthorized", (string?)problem!["kind"]);
        Assert.Equal(HttpStatusCode.Unauthorized, (await none.GetAsync("openapi/v1.json")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await none.GetAsync("api/v1/events?instance=x")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await none.PostAsJsonAsync("api/v1/definitions", new { id = "sneaky", steps = new[] { new { id = "a", activity = "Strip" } } })).StatusCode);

        using var wrong = serve.Client(token: serve.Token[..^1] + (serve.Token[^1] == 'A' ? 'B' : 'A'));
        var wrongAnswer = await wrong.GetAsync("api/v1/activities");
        Assert.Equal(HttpStatusCode.Unauthorized, wrongAnswer.StatusCode);
        Assert.Equal("Wrong token", (string?)(await wrongAnswer.Content.ReadFromJsonAsync<JsonObject>())!["title"]);

        using var client = serve.Client();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/v1/activities")).StatusCode);
        var openApi = await client.GetStringAsync("openapi/v1.json");
        Assert.Contains("/api/v1/definitions/validate", openApi, StringComparison.Ordinal);

        // A page of another site that resolves its name to 127.0.0.1 (DNS rebinding) is refused, token or not.
        using var rebound = new HttpRequestMessage(HttpMethod.Get, "api/v1/activities");
        rebound.Headers.Host = "evil.example";
        var reboundAnswer = await client.SendAsync(rebound);
        Assert.Equal(HttpStatusCode.BadRequest, reboundAnswer.StatusCode);
        Assert.Contains("not a loopback", await reboundAnswer.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        Assert.Contains("jailwf designer", await none.GetStringAsync("/"), StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(ServeFileMode, File.GetUnixFileMode(JailWorkflows.Server.ServeOptions.TokenPathOf(serve.Database)));
        }
    }

    private const UnixFileMode ServeFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

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
        var pinned = await serve.StartWaitAsync(client, "apiv1");
        var v1 = (await client.GetFromJsonAsync<JsonObject>("api/v1/definitions/wait/versions/1"))!;
        Assert.Equal(1, (int)v1["instances"]!);

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
        Assert.Contains("version 2 now", (string?)(await stale.Content.ReadFromJsonAsync<JsonObject>())!["detail"], StringComparison.Ordinal);
        Assert.False((await client.PutAsJsonAsync("api/v1/definitions/wait/versions/1", v1)).IsSuccessStatusCode);
        Assert.True(JsonNode.DeepEquals(original["steps"], (await client.GetFromJsonAsync<JsonObject>("api/v1/definitions/wait/versions/1"))!["steps"]));

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
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsJsonAsync($"api/v1/instances/{id}/abort", new { reason = "again" })).StatusCode);
    }

    [Fact]
    public async Task The_event_stream_delivers_the_instance_and_each_appended_journal_entry_and_resumes_after_last_event_id()
    {
        using var client = serve.Client();
        var id = await serve.StartWaitAsync(client, "apievents");
        var existing = await ApiFixture.JournalAsync(client, id);
        using var deadline = new CancellationTokenSource(ApiFixture.Deadline);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"api/v1/events?instance={id}");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var events = new SseReader(await response.Content.ReadAsStreamAsync(deadline.Token));
        var first = await events.NextAsync(deadline.Token);
        Assert.Equal("instance", first.Event);
        Assert.Equal("running", (string?)JsonNode.Parse(first.Data)!["state"]);
        var replayed = new List<long>();
        while (replayed.Count < existing.Count)
        {
            var next = await events.NextAsync(deadline.Token);
            Assert.Equal("journal", next.Event);
            replayed.Add(long.Parse(next.Id!, System.Globalization.CultureInfo.InvariantCulture));
        }

        Assert.Equal(existing.Select(e => (long)e!["id"]!), replayed);

        // An operator action appends a journal entry: the open stream delivers it.
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync($"api/v1/instances/{id}/resume", new { reason = "poke the stream" })).StatusCode);
        var appended = await events.NextAsync(deadline.Token, e => e.Event == "journal");
        var entry = JsonNode.Parse(appended.Data)!;
        Assert.Equal("operatorAction", (string?)entry["kind"]);
        Assert.Contains("poke the stream", (string?)entry["message"], StringComparison.Ordinal);

        // Resumed after that entry: only what came later (the abort) arrives, and the instance's change with it.
        using var again = new HttpRequestMessage(HttpMethod.Get, $"api/v1/events?instance={id}");
        again.Headers.Add("Last-Event-ID", appended.Id);
        using var resumed = await client.SendAsync(again, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
        using var later = new SseReader(await resumed.Content.ReadAsStreamAsync(deadline.Token));
        Assert.Equal("instance", (await later.NextAsync(deadline.Token)).Event);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync($"api/v1/instances/{id}/abort", new { reason = "test done" })).StatusCode);
        long? abortEntry = null;
        string? state = null;
        while (abortEntry is null || state != "aborted")
        {
            var next = await later.NextAsync(deadline.Token);
            if (next.Event == "journal")
            {
                abortEntry = long.Parse(next.Id!, System.Globalization.CultureInfo.InvariantCulture);
                Assert.True(abortEntry > long.Parse(appended.Id!, System.Globalization.CultureInfo.InvariantCulture), "only entries after Last-Event-ID");
            }
            else
            {
                state = (string?)JsonNode.Parse(next.Data)!["state"];
            }
        }

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("api/v1/events?instance=ffffffffffffffff", deadline.Token)).StatusCode);
    }

    /// <summary>Reads Server-Sent Events (event, id, data) from a response stream.</summary>
    private sealed class SseReader(Stream stream) : IDisposable
    {
        private readonly StreamReader _reader = new(stream);

        public async Task<(string? Event, string? Id, string Data)> NextAsync(CancellationToken ct, Func<(string? Event, string? Id, string Data), bool>? which = null)
        {
            while (true)
            {
                string? name = null, id = null;
                var data = new List<string>();
                while (await _reader.ReadLineAsync(ct) is { } line)
                {
                    if (line.Length == 0)
                    {
                        if (name is not null || data.Count > 0)
                        {
                            break;
                        }

                        continue;
                    }

                    if (line.StartsWith(':'))
                    {
                        continue;
                    }

                    var (field, value) = line.IndexOf(':') is var colon and >= 0 ? (line[..colon], line[(colon + 1)..].TrimStart()) : (line, string.Empty);
                    switch (field)
                    {
                        case "event": name = value; break;
                        case "id": id = value; break;
                        case "data": data.Add(value); break;
                    }
                }

                var found = (name, id, string.Join('\n', data));
                if (name is null && data.Count == 0)
                {
                    throw new EndOfStreamException("the event stream ended");
                }

                if (which is null || which(found))
                {
                    return found;
                }
            }
        }

        public void Dispose() => _reader.Dispose();
    }
}
