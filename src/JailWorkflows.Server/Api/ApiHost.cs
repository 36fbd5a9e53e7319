using System.Net;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Activities;
using JailWorkflows.Server.Schedules;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace JailWorkflows.Server.Api;

/// <summary>
/// serve's HTTP API (docs/api.md): Kestrel on loopback TCP (<see cref="ServeOptions.Urls"/>), every request under <c>/api/</c>
/// and <c>/openapi/</c> with the bearer token (<see cref="ApiToken"/>), requests whose Host header is not a loopback name refused
/// (DNS rebinding), errors as RFC 9457 problem details, the OpenAPI document at <c>/openapi/v1.json</c>, and the designer's built
/// files at <c>/</c> when present. It shares serve's engine and schedules; the control socket stays as it is.
/// </summary>
public static class ApiHost
{
    /// <summary>Whether a host name or address is loopback: <c>localhost</c> (and <c>*.localhost</c>), 127.0.0.0/8 or ::1.</summary>
    /// <param name="host">A host name or address (IPv6 with or without brackets).</param>
    /// <returns>True for loopback.</returns>
    public static bool IsLoopback(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var name = host.Trim('[', ']');
        return name.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(name, out var address) && IPAddress.IsLoopback(address));
    }

    /// <summary>The JSON conventions of the API: camelCase, enums as camelCase strings, retry policies in seconds.</summary>
    /// <param name="options">The serializer options to configure.</param>
    public static void ConfigureJson(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.Converters.Add(new RetryPolicyJsonConverter());
    }

    /// <summary>Builds the API application (not started).</summary>
    internal static WebApplication Build(ServeOptions options, JailwfEngine engine, ScheduleBook schedules, ApiToken token, Action<ILoggingBuilder> configureLogging)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "jailwf", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        configureLogging(builder.Logging);
        builder.WebHost.UseUrls([.. options.Urls]);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        builder.Services.AddSingleton(engine);
        builder.Services.AddSingleton(schedules);
        builder.Services.AddSingleton(token);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.ConfigureHttpJsonOptions(o => ConfigureJson(o.SerializerOptions));
        builder.Services.AddProblemDetails();
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "JailWorkflows API";
            document.Info.Description = "jailwf serve's HTTP API (docs/api.md). Every request needs Authorization: Bearer <token> (jailwf token).";
            return Task.CompletedTask;
        }));
        var app = builder.Build();

        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.Use(GuardAsync);
        var designer = DesignerDirectory(options);
        if (designer is not null)
        {
            var files = new PhysicalFileProvider(designer);
            app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
            app.UseStaticFiles(new StaticFileOptions { FileProvider = files });
            app.MapFallbackToFile("index.html", new StaticFileOptions { FileProvider = files });
        }

        app.MapOpenApi();
        ApiEndpoints.Map(app);
        return app;
    }

    /// <summary>The addresses a started API application listens on (with the real port when 0 was asked for).</summary>
    internal static IReadOnlyList<string> Addresses(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];

    /// <summary>The designer's built files, or null when there are none.</summary>
    internal static string? DesignerDirectory(ServeOptions options)
    {
        IEnumerable<string> candidates = options.DesignerPath is { } path
            ? [path]
            : [Path.Combine(AppContext.BaseDirectory, "designer", "dist"), Path.Combine(Environment.CurrentDirectory, "designer", "dist")];
        return candidates.Select(Path.GetFullPath).FirstOrDefault(d => File.Exists(Path.Combine(d, "index.html")));
    }

    /// <summary>The Host header check (every request) and the bearer token check (<c>/api/</c> and <c>/openapi/</c>).</summary>
    private static async Task GuardAsync(HttpContext http, RequestDelegate next)
    {
        if (!IsLoopback(http.Request.Host.Host))
        {
            await Results.Problem(
                statusCode: StatusCodes.Status400BadRequest,
                title: "Host not allowed",
                detail: $"The Host header '{http.Request.Host}' is not a loopback name or address: the JailWorkflows API answers only requests for localhost or 127.0.0.0/8 (a defence against DNS rebinding).",
                extensions: new Dictionary<string, object?> { ["kind"] = "bad-input" }).ExecuteAsync(http).ConfigureAwait(false);
            return;
        }

        var path = http.Request.Path;
        if ((path.StartsWithSegments("/api") || path.StartsWithSegments("/openapi"))
            && !http.RequestServices.GetRequiredService<ApiToken>().Accepts(http.Request.Headers.Authorization))
        {
            var given = http.Request.Headers.Authorization.Count > 0;
            http.Response.Headers.WWWAuthenticate = given ? "Bearer error=\"invalid_token\"" : "Bearer";
            await Results.Problem(
                statusCode: StatusCodes.Status401Unauthorized,
                title: given ? "Wrong token" : "Token required",
                detail: given
                    ? "The bearer token is not the one of this serve ('jailwf token' prints it)."
                    : "Every request to the JailWorkflows API needs 'Authorization: Bearer <token>'; 'jailwf token' prints the token.",
                extensions: new Dictionary<string, object?> { ["kind"] = "unauthorized" }).ExecuteAsync(http).ConfigureAwait(false);
            return;
        }

        await next(http).ConfigureAwait(false);
    }

    /// <summary>The program's version (informational).</summary>
    internal static string Version =>
        typeof(ApiHost).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";

    /// <summary>A retry policy as <c>{ maxAttempts, backoffSeconds, maxBackoffSeconds }</c>, the form of definitions.</summary>
    private sealed class RetryPolicyJsonConverter : JsonConverter<RetryPolicy>
    {
        public override RetryPolicy Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            return new RetryPolicy(
                root.GetProperty("maxAttempts").GetInt32(),
                TimeSpan.FromSeconds(root.GetProperty("backoffSeconds").GetDouble()),
                TimeSpan.FromSeconds(root.GetProperty("maxBackoffSeconds").GetDouble()));
        }

        public override void Write(Utf8JsonWriter writer, RetryPolicy value, JsonSerializerOptions options)
        {
            writer.WriteStartObject();
            writer.WriteNumber("maxAttempts", value.MaxAttempts);
            writer.WriteNumber("backoffSeconds", value.Backoff.TotalSeconds);
            writer.WriteNumber("maxBackoffSeconds", value.MaxBackoff.TotalSeconds);
            writer.WriteEndObject();
        }
    }
}
