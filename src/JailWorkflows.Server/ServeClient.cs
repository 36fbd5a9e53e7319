using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using JailWorkflows.Engine;
using JailWorkflows.Server.Schedules;
using Microsoft.AspNetCore.Mvc;

namespace JailWorkflows.Server;

/// <summary>serve answered a request with an error (an RFC 9457 problem); <see cref="Kind"/> says what kind (<see cref="ControlApi.Classify"/>).</summary>
public sealed class ServeProblemException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="kind">bad-input, not-found, refused, host, timeout or internal.</param>
    /// <param name="title">The problem's title.</param>
    /// <param name="message">The problem's detail.</param>
    public ServeProblemException(string kind, string title, string message)
        : base(message)
    {
        Kind = kind;
        Title = title;
    }

    /// <summary>The problem kind.</summary>
    public string Kind { get; }

    /// <summary>The problem's title (e.g. "Refused").</summary>
    public string Title { get; }
}

/// <summary>
/// The CLI's client of a running serve: HTTP over the control socket <c>&lt;database&gt;.sock</c> (SocketsHttpHandler with a
/// Unix domain socket connect callback). Found only when the database's engine lock is held by a live process and the
/// socket answers <c>GET /health</c>: otherwise the CLI runs its own engine as before.
/// </summary>
public sealed class ServeClient : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly HttpClient _http;

    private ServeClient(string socketPath)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://jailwf/"), Timeout = TimeSpan.FromMinutes(5) };
    }

    /// <summary>serve's process id.</summary>
    public int Pid { get; private set; }

    /// <summary>Connects to the serve of a database, if one runs and answers.</summary>
    /// <param name="databasePath">The engine's database.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The client, or null when no serve runs on that database (none holds its lock, or the holder has no socket that answers: a CLI engine).</returns>
    public static async Task<ServeClient?> ConnectAsync(string databasePath, CancellationToken cancellationToken = default)
    {
        var socket = ServeOptions.SocketPathOf(databasePath);
        if (EngineLock.LiveHolder(databasePath) is null || !File.Exists(socket))
        {
            return null;
        }

        var client = new ServeClient(socket);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            var health = await client._http.GetFromJsonAsync<HealthResponse>("health", Json, timeout.Token).ConfigureAwait(false);
            client.Pid = health?.Pid ?? 0;
            return client;
        }
        catch (Exception ex) when (ex is HttpRequestException or SocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            client.Dispose();
            return null;
        }
    }

    /// <summary>Starts a run (<c>POST /instances</c>).</summary>
    /// <param name="request">The run.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The started instances.</returns>
    /// <exception cref="ServeProblemException">serve refused.</exception>
    public async Task<RunResponse> RunAsync(RunRequest request, CancellationToken cancellationToken = default) =>
        await SendAsync<RunResponse>(HttpMethod.Post, "instances", request, cancellationToken).ConfigureAwait(false);

    /// <summary>An operator action on an instance (<c>POST /instances/{id}/{action}</c>).</summary>
    /// <param name="instance">The instance id or prefix.</param>
    /// <param name="action">resume, retry, skip, abort or approve.</param>
    /// <param name="request">Reason and force.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>What was done.</returns>
    /// <exception cref="ServeProblemException">serve refused.</exception>
    public async Task<DecisionResponse> DecideAsync(string instance, string action, DecisionRequest request, CancellationToken cancellationToken = default) =>
        await SendAsync<DecisionResponse>(HttpMethod.Post, $"instances/{Uri.EscapeDataString(instance)}/{action}", request, cancellationToken).ConfigureAwait(false);

    /// <summary>Adds a schedule (<c>POST /schedules</c>).</summary>
    /// <param name="request">The schedule.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The schedule.</returns>
    /// <exception cref="ServeProblemException">serve refused (invalid cron expression, unknown time zone or definition, invalid plan).</exception>
    public async Task<ScheduleView> AddScheduleAsync(ScheduleRequest request, CancellationToken cancellationToken = default) =>
        await SendAsync<ScheduleView>(HttpMethod.Post, "schedules", request, cancellationToken).ConfigureAwait(false);

    /// <summary>Every schedule (<c>GET /schedules</c>).</summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The schedules.</returns>
    public async Task<IReadOnlyList<ScheduleView>> ListSchedulesAsync(CancellationToken cancellationToken = default) =>
        await SendAsync<List<ScheduleView>>(HttpMethod.Get, "schedules", null, cancellationToken).ConfigureAwait(false);

    /// <summary>Pauses or resumes a schedule (<c>POST /schedules/{id}/pause|resume</c>).</summary>
    /// <param name="id">The schedule.</param>
    /// <param name="action">pause or resume.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The schedule.</returns>
    public async Task<ScheduleView> ChangeScheduleAsync(string id, string action, CancellationToken cancellationToken = default) =>
        await SendAsync<ScheduleView>(HttpMethod.Post, $"schedules/{Uri.EscapeDataString(id)}/{action}", null, cancellationToken).ConfigureAwait(false);

    /// <summary>Removes a schedule (<c>DELETE /schedules/{id}</c>).</summary>
    /// <param name="id">The schedule.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task.</returns>
    public async Task RemoveScheduleAsync(string id, CancellationToken cancellationToken = default) =>
        await SendAsync<object>(HttpMethod.Delete, $"schedules/{Uri.EscapeDataString(id)}", null, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    private async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        using var message = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body, body.GetType(), options: Json) };
        using var response = await _http.SendAsync(message, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            ProblemDetails? problem = null;
            try
            {
                problem = await response.Content.ReadFromJsonAsync<ProblemDetails>(Json, cancellationToken).ConfigureAwait(false);
            }
            catch (JsonException)
            {
            }

            var kind = problem?.Extensions.TryGetValue("kind", out var k) == true ? k?.ToString() ?? "internal" : "internal";
            throw new ServeProblemException(kind, problem?.Title ?? response.ReasonPhrase ?? "Error", problem?.Detail ?? $"serve answered {(int)response.StatusCode} {response.ReasonPhrase}");
        }

        if (response.StatusCode == System.Net.HttpStatusCode.NoContent)
        {
            return default!;
        }

        return (await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken).ConfigureAwait(false))!;
    }
}
