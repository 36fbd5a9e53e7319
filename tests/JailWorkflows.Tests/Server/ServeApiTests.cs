using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace JailWorkflows.Tests.Server;

/// <summary>
/// serve's HTTP API on a real loopback socket (<see cref="ServeFixture"/>: <c>JailwfServer.RunAsync</c> with Kestrel). Only what
/// the in-memory TestServer of <see cref="ApiTests"/> cannot show: that serve itself makes the token file and puts the same
/// pipeline on its listener (Host check and token check as Kestrel parses them), and the event stream over an open connection.
/// </summary>
public sealed class ServeApiTests(ServeFixture serve) : IClassFixture<ServeFixture>
{
    [Fact]
    public async Task Serve_makes_its_token_file_and_its_real_listener_refuses_a_missing_token_and_a_foreign_host_name()
    {
        var token = File.ReadAllText(JailWorkflows.Server.ServeOptions.TokenPathOf(serve.Database)).Trim();
        Assert.Equal(43, token.Length);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(JailWorkflows.Server.ServeOptions.TokenPathOf(serve.Database)));
        }

        Assert.True(serve.BaseAddress.IsLoopback && serve.BaseAddress.Port > 0, serve.BaseAddress.ToString());
        using var none = serve.Client(token: string.Empty);
        var refused = await none.GetAsync("api/v1/health");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Equal("unauthorized", (string?)(await refused.Content.ReadFromJsonAsync<JsonObject>())!["kind"]);

        using var client = serve.Client();
        var health = (await client.GetFromJsonAsync<JsonObject>("api/v1/health"))!;
        Assert.Equal(Environment.ProcessId, (int)health["pid"]!);
        Assert.Equal(serve.Database, (string?)health["database"]);

        // A page of another site that resolves its name to 127.0.0.1 (DNS rebinding) is refused, token or not.
        using var rebound = new HttpRequestMessage(HttpMethod.Get, "api/v1/activities");
        rebound.Headers.Host = "evil.example";
        var reboundAnswer = await client.SendAsync(rebound);
        Assert.Equal(HttpStatusCode.BadRequest, reboundAnswer.StatusCode);
        Assert.Contains("not a loopback", await reboundAnswer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("jailwf designer", await none.GetStringAsync("/"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_event_stream_delivers_the_instance_and_each_appended_journal_entry_and_resumes_after_last_event_id()
    {
        using var client = serve.Client();
        var id = await serve.StartWaitAsync(client, "apievents");
        var existing = await ServeFixture.JournalAsync(client, id);
        using var deadline = new CancellationTokenSource(ServeFixture.Deadline);

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
