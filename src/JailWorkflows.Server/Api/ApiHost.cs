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
using Microsoft.Extensions.Configuration;
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

    /// <summary>
    /// The API's host, not built: Kestrel on <see cref="ServeOptions.Urls"/>, the services (engine, schedules, token, JSON
    /// conventions, problem details, OpenAPI) and the request pipeline (<see cref="Configure"/>). The one place the API is put
    /// together: serve builds and starts it; the API tests hand it to WebApplicationFactory, which replaces Kestrel with its
    /// in-memory TestServer and leaves everything else as serve runs it.
    /// </summary>
    /// <param name="options">serve's options (URLs, designer files, database).</param>
    /// <param name="engine">The running engine the API works on.</param>
    /// <param name="schedules">The schedules of serve's scheduler.</param>
    /// <param name="token">The bearer token every <c>/api/</c> and <c>/openapi/</c> request must carry.</param>
    /// <param name="configureLogging">Configures the host's logging (its default providers are cleared first).</param>
    /// <returns>The host builder.</returns>
    internal static IHostBuilder CreateHostBuilder(ServeOptions options, JailwfEngine engine, ScheduleBook schedules, ApiToken token, Action<ILoggingBuilder> configureLogging) =>
        new HostBuilder()
            .UseContentRoot(AppContext.BaseDirectory)
            .ConfigureHostConfiguration(c => c.AddInMemoryCollection([new(HostDefaults.ApplicationKey, "jailwf")]))
            .ConfigureLogging(logging =>
            {
                logging.ClearProviders();
                configureLogging(logging);
            })
            .ConfigureServices(services =>
            {
                services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
                services.AddSingleton(engine);
                services.AddSingleton(schedules);
                services.AddSingleton(token);
                services.AddSingleton(options);
                services.AddSingleton(TimeProvider.System);
                services.AddRouting();
                services.ConfigureHttpJsonOptions(o => ConfigureJson(o.SerializerOptions));
                services.AddProblemDetails();
                services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
                {
                    document.Info.Title = "JailWorkflows API";
                    document.Info.Description = "jailwf serve's HTTP API (docs/api.md). Every request needs Authorization: Bearer <token> (jailwf token).";
                    return Task.CompletedTask;
                }));
            })
            .ConfigureWebHost(web => web
                .UseKestrel()
                .UseUrls([.. options.Urls])
                .Configure(app => Configure(app, DesignerDirectory(options))));

    /// <summary>The request pipeline: problem details for errors, the Host and token guard, the designer's files, the endpoints.</summary>
    private static void Configure(IApplicationBuilder app, string? designer)
    {
        // Routing first, as WebApplication does: a request for a designer route matches the fallback endpoint.
        app.UseRouting();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.Use(GuardAsync);
        PhysicalFileProvider? files = designer is null ? null : new PhysicalFileProvider(designer);
        if (files is not null)
        {
            app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
            app.UseStaticFiles(new StaticFileOptions { FileProvider = files });
        }

        app.UseEndpoints(endpoints =>
        {
            if (files is not null)
            {
                endpoints.MapFallbackToFile("index.html", new StaticFileOptions { FileProvider = files });
            }

            endpoints.MapOpenApi();
            ApiEndpoints.Map(endpoints);
        });
    }

    /// <summary>The addresses a started API host listens on (with the real port when 0 was asked for).</summary>
    internal static IReadOnlyList<string> Addresses(IHost host) =>
        host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];

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
