using System.ComponentModel;
using JailWorkflows.Bench.Figures;
using Spectre.Console;
using Spectre.Console.Cli;

namespace JailWorkflows.Bench;

/// <summary>The bench command: <c>jailwf-bench [figure...|all] [--quick] [--list] [--results FILE]</c>.</summary>
internal static class Program
{
    /// <summary>Every figure, in the order of issue 7.</summary>
    public static IReadOnlyList<Figure> Figures { get; } =
    [
        // Registered by each figure's file; keep the order of issue 7 (checkpoint, recovery, transfer, resume, ssh, scale, designer).
        new CheckpointFigure(),
        new RecoveryFigure(),
        new TransferFigure(),
        new ResumeFigure(),
        new SshFigure(),
        new ScaleFigure(),
        new DesignerFigure(),
    ];

    public static async Task<int> Main(string[] args)
    {
        var app = new CommandApp<BenchCommand>();
        app.Configure(config =>
        {
            config.SetApplicationName("jailwf-bench");
            config.Settings.StrictParsing = true;
            config.PropagateExceptions();
        });
        try
        {
            return await app.RunAsync(args).ConfigureAwait(false);
        }
        catch (CommandAppException ex)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{ex.Message}[/]");
            return 2;
        }
    }
}

/// <summary>Runs figures and writes the results page.</summary>
internal sealed class BenchCommand : AsyncCommand<BenchCommand.Settings>
{
    /// <summary>The bench command's arguments.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>The figures to run, or <c>all</c>.</summary>
        [CommandArgument(0, "[figures]")]
        [Description("Figures to measure (see --list), or 'all'. Default: all.")]
        public string[] Figures { get; init; } = [];

        /// <summary>Fewer repetitions and smaller sizes.</summary>
        [CommandOption("--quick")]
        [Description("A short run (fewer repetitions, smaller sizes), to check that the command works; the page marks it.")]
        public bool Quick { get; init; }

        /// <summary>List the figures and exit.</summary>
        [CommandOption("--list")]
        [Description("List the figures and exit.")]
        public bool List { get; init; }

        /// <summary>The results page.</summary>
        [CommandOption("--results <FILE>")]
        [Description("The results page to update. Default: docs/benchmarks.md in the repository.")]
        public string? Results { get; init; }

        /// <summary>Do not write the results page.</summary>
        [CommandOption("--no-write")]
        [Description("Print the figures only; leave the results page as it is.")]
        public bool NoWrite { get; init; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            var known = Program.Figures.Select(f => f.Name).Append("all").ToHashSet(StringComparer.Ordinal);
            var unknown = Figures.Where(f => !known.Contains(f)).ToList();
            return unknown.Count == 0
                ? ValidationResult.Success()
                : ValidationResult.Error($"unknown figure {string.Join(", ", unknown.Select(u => $"'{u}'"))} (known: {string.Join(", ", known.Order(StringComparer.Ordinal))})");
        }
    }

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.List)
        {
            foreach (var f in Program.Figures)
            {
                AnsiConsole.MarkupLineInterpolated($"{f.Name,-12} {f.Title}{(f.NeedsLab ? " (lab, root)" : string.Empty)}");
            }

            return 0;
        }

        var figures = settings.Figures.Length == 0 || settings.Figures.Contains("all")
            ? Program.Figures
            : Program.Figures.Where(f => settings.Figures.Contains(f.Name)).ToList();
        var root = RepositoryRoot();
        var work = Path.Combine(Path.GetTempPath(), $"jailwf-bench-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        var bench = new BenchContext(root, work, settings.Quick, AnsiConsole.Console);
        var started = bench.Time.GetUtcNow();
        var machine = BenchContext.Machine();
        AnsiConsole.MarkupLineInterpolated($"[bold]jailwf-bench[/] on {machine}");
        var done = new List<(Figure, FigureReport)>();
        var failed = 0;
        try
        {
            foreach (var figure in figures)
            {
                AnsiConsole.Write(new Rule(figure.Title).LeftJustified());
                try
                {
                    var report = await figure.RunAsync(bench, cancellationToken).ConfigureAwait(false);
                    Print(report);
                    done.Add((figure, report));
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    failed++;
                    AnsiConsole.MarkupLineInterpolated($"[red]{figure.Name} failed:[/] {ex}");
                }
            }
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
                // Left for a look; it is under the temporary directory.
            }
        }

        if (!settings.NoWrite && done.Count > 0)
        {
            var page = settings.Results ?? Path.Combine(root, "docs", "benchmarks.md");
            ResultsPage.Update(page, done, machine, started, settings.Quick);
            AnsiConsole.MarkupLineInterpolated($"Results written to {page}");
        }

        return failed == 0 ? 0 : 1;
    }

    private static void Print(FigureReport report)
    {
        var table = new Table().AddColumns("Measurement", "Value", "Compared in the same run", "Target", "Met");
        foreach (var m in report.Measurements)
        {
            table.AddRow(
                Markup.Escape(m.What),
                Markup.Escape(m.Value),
                Markup.Escape(m.Comparison ?? string.Empty),
                Markup.Escape(m.Target ?? string.Empty),
                m.Met switch { true => "[green]yes[/]", false => "[red]no[/]", null => string.Empty });
        }

        AnsiConsole.Write(table);
        foreach (var note in report.Notes)
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]note:[/] {note}");
        }
    }

    private static string RepositoryRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "JailWorkflows.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException("Run the bench command inside the repository (no JailWorkflows.sln above the current directory).");
    }
}
