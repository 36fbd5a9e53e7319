using System.ComponentModel;
using System.Globalization;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Definitions;
using JailWorkflows.Server;
using JailWorkflows.Server.Schedules;
using Microsoft.Extensions.DependencyInjection;
using Quartz;
using Spectre.Console;
using Spectre.Console.Cli;

namespace JailWorkflows.Cli.Commands;

/// <summary>
/// The schedule commands: through a running serve when there is one (<see cref="ServeClient"/>), else on the schedules
/// database directly, under the engine's lock (no engine and no scheduler runs: the change waits for the next serve).
/// </summary>
internal static class Schedules
{
    public static async Task<T> DoAsync<T>(EngineSettings settings, Func<ServeClient, Task<T>> throughServe, Func<ScheduleBook, Func<string, bool>, Task<T>> offline, CancellationToken cancellationToken)
    {
        using (var serve = await ServeClient.ConnectAsync(settings.DatabasePath, cancellationToken).ConfigureAwait(false))
        {
            if (serve is not null)
            {
                return await throughServe(serve).ConfigureAwait(false);
            }
        }

        var engine = settings.ToEngineOptions();
        using var engineLock = EngineLock.Acquire(engine.DatabasePath, TimeProvider.System);
        var definitions = Directory.Exists(engine.WorkflowsDirectory) ? DefinitionLoader.LoadDirectory(engine.WorkflowsDirectory) : [];
        var options = new ServeOptions { Engine = engine };
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddJailwfSchedules(options, TimeProvider.System);
        await using var provider = services.BuildServiceProvider();
        var scheduler = await provider.GetRequiredService<ISchedulerFactory>().GetScheduler(cancellationToken).ConfigureAwait(false);
        try
        {
            return await offline(provider.GetRequiredService<ScheduleBook>(), id => definitions.Any(d => d.Id == id)).ConfigureAwait(false);
        }
        finally
        {
            await scheduler.Shutdown(false, CancellationToken.None).ConfigureAwait(false);
        }
    }

    public static void Print(ScheduleView view)
    {
        AnsiConsole.MarkupLine($"schedule [bold]{Markup.Escape(view.Id)}[/]: {Markup.Escape(view.Definition)} for {Markup.Escape(view.JailHost)}, cron '{Markup.Escape(view.Cron)}' in {Markup.Escape(view.TimeZone)}, misfire {ScheduleBook.Text(view.Misfire)}, overlap {ScheduleBook.Text(view.Overlap)}; {(view.Paused ? "paused" : "next run " + Time(view.NextFire))}");
    }

    public static string Time(DateTimeOffset? time) => time?.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture) ?? "-";
}

/// <summary><c>jailwf schedule add &lt;definition&gt; --plan &lt;file&gt; --cron "&lt;expr&gt;" [--time-zone] [--misfire] [--overlap]</c>.</summary>
internal sealed class ScheduleAddCommand : AsyncCommand<ScheduleAddCommand.Settings>
{
    public sealed class Settings : EngineSettings
    {
        [CommandArgument(0, "<DEFINITION>")]
        [Description("The workflow definition id, e.g. nightly-buildworld.")]
        public string Definition { get; init; } = string.Empty;

        [CommandOption("--plan <FILE>")]
        [Description("The plan (YAML); its text is stored with the schedule.")]
        public string? Plan { get; init; }

        [CommandOption("--cron <EXPR>")]
        [Description("Quartz cron expression, seconds first: \"0 0 2 * * ?\" is 02:00 every day.")]
        public string? Cron { get; init; }

        [CommandOption("--time-zone <TZ>")]
        [Description("IANA time zone of the cron expression (default UTC), e.g. Europe/Berlin.")]
        public string? TimeZone { get; init; }

        [CommandOption("--misfire <POLICY>")]
        [Description("fire-once (default): a fire missed while serve was down runs once at start; skip: it is not run.")]
        [DefaultValue("fire-once")]
        public string Misfire { get; init; } = "fire-once";

        [CommandOption("--overlap <POLICY>")]
        [Description("skip (default): a fire while a run on the same jail host is unfinished is skipped (journaled); queue: it runs after that one.")]
        [DefaultValue("skip")]
        public string Overlap { get; init; } = "skip";

        public override ValidationResult Validate() =>
            Plan is null ? ValidationResult.Error("--plan <FILE> is required.")
            : Cron is null ? ValidationResult.Error("--cron <EXPR> is required, e.g. --cron \"0 0 2 * * ?\" (02:00 every day).")
            : Misfire is not ("fire-once" or "skip") ? ValidationResult.Error($"--misfire is fire-once or skip, not '{Misfire}'.")
            : Overlap is not ("skip" or "queue") ? ValidationResult.Error($"--overlap is skip or queue, not '{Overlap}'.")
            : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (!File.Exists(settings.Plan))
        {
            throw new FileNotFoundException($"No plan file {settings.Plan}.", settings.Plan);
        }

        // Everything that can be checked here is, before anything is stored.
        _ = ScheduleMath.ParseCron(settings.Cron!, settings.TimeZone);
        var request = new ScheduleRequest(settings.Definition, File.ReadAllText(settings.Plan!), Path.GetFullPath(settings.Plan!), settings.Cron!, settings.TimeZone, ScheduleBook.ParseMisfire(settings.Misfire), ScheduleBook.ParseOverlap(settings.Overlap));
        var view = await Schedules.DoAsync(
            settings,
            serve => serve.AddScheduleAsync(request, cancellationToken),
            (book, exists) => book.AddAsync(request, exists, cancellationToken),
            cancellationToken).ConfigureAwait(false);
        Schedules.Print(view);
        return 0;
    }
}

/// <summary><c>jailwf schedule list</c>: every schedule with its next fire time in its own time zone.</summary>
internal sealed class ScheduleListCommand : AsyncCommand<EngineSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, EngineSettings settings, CancellationToken cancellationToken)
    {
        var views = await Schedules.DoAsync(settings, serve => serve.ListSchedulesAsync(cancellationToken), (book, _) => book.ListAsync(cancellationToken), cancellationToken).ConfigureAwait(false);
        var table = new Table().AddColumns("Schedule", "Definition", "Jail host", "Cron", "Time zone", "Misfire", "Overlap", "Next run", "Last decision");
        foreach (var view in views)
        {
            table.AddRow(
                Markup.Escape(view.Id),
                Markup.Escape(view.Definition),
                Markup.Escape(view.JailHost),
                Markup.Escape(view.Cron),
                Markup.Escape(view.TimeZone),
                ScheduleBook.Text(view.Misfire),
                ScheduleBook.Text(view.Overlap),
                view.Paused ? "paused" : Schedules.Time(view.NextFire),
                Markup.Escape(view.LastEvent is { } e ? $"{e.At.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z {e.Kind}: {e.Message}" : string.Empty));
        }

        AnsiConsole.Write(table);
        return 0;
    }
}

/// <summary>Settings of the commands on one schedule.</summary>
internal sealed class ScheduleIdSettings : EngineSettings
{
    [CommandArgument(0, "<SCHEDULE>")]
    [Description("The schedule id (jailwf schedule list).")]
    public string Id { get; init; } = string.Empty;
}

/// <summary><c>jailwf schedule pause &lt;id&gt;</c>.</summary>
internal sealed class SchedulePauseCommand : AsyncCommand<ScheduleIdSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ScheduleIdSettings settings, CancellationToken cancellationToken)
    {
        Schedules.Print(await Schedules.DoAsync(settings, serve => serve.ChangeScheduleAsync(settings.Id, "pause", cancellationToken), (book, _) => book.PauseAsync(settings.Id, cancellationToken), cancellationToken).ConfigureAwait(false));
        return 0;
    }
}

/// <summary><c>jailwf schedule resume &lt;id&gt;</c>.</summary>
internal sealed class ScheduleResumeCommand : AsyncCommand<ScheduleIdSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ScheduleIdSettings settings, CancellationToken cancellationToken)
    {
        Schedules.Print(await Schedules.DoAsync(settings, serve => serve.ChangeScheduleAsync(settings.Id, "resume", cancellationToken), (book, _) => book.ResumeAsync(settings.Id, cancellationToken), cancellationToken).ConfigureAwait(false));
        return 0;
    }
}

/// <summary><c>jailwf schedule remove &lt;id&gt;</c>.</summary>
internal sealed class ScheduleRemoveCommand : AsyncCommand<ScheduleIdSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ScheduleIdSettings settings, CancellationToken cancellationToken)
    {
        await Schedules.DoAsync(
            settings,
            async serve =>
            {
                await serve.RemoveScheduleAsync(settings.Id, cancellationToken).ConfigureAwait(false);
                return 0;
            },
            async (book, _) =>
            {
                await book.RemoveAsync(settings.Id, cancellationToken).ConfigureAwait(false);
                return 0;
            },
            cancellationToken).ConfigureAwait(false);
        AnsiConsole.MarkupLine($"schedule {Markup.Escape(settings.Id)} removed; instances it started are not touched");
        return 0;
    }
}
