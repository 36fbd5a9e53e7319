using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace JailWorkflows.Bench;

/// <summary>
/// The results page (docs/benchmarks.md): one section per figure between <c>&lt;!-- figure:NAME --&gt;</c> and
/// <c>&lt;!-- /figure:NAME --&gt;</c>; a run rewrites the sections of the figures it measured and keeps the others.
/// </summary>
internal static partial class ResultsPage
{
    /// <summary>Writes the sections of a run into the page.</summary>
    /// <param name="path">The page; created with its heading when missing.</param>
    /// <param name="figures">The figures measured and their reports, in order.</param>
    /// <param name="machine">The machine (<see cref="BenchContext.Machine"/>).</param>
    /// <param name="date">When the run started.</param>
    /// <param name="quick">Whether it was a quick run.</param>
    public static void Update(string path, IReadOnlyList<(Figure Figure, FigureReport Report)> figures, string machine, DateTimeOffset date, bool quick)
    {
        var text = File.Exists(path) ? File.ReadAllText(path) : Heading;
        foreach (var (figure, report) in figures)
        {
            var section = Section(figure, report, machine, date, quick);
            var pattern = new Regex($"<!-- figure:{Regex.Escape(figure.Name)} -->.*?<!-- /figure:{Regex.Escape(figure.Name)} -->\n?", RegexOptions.Singleline);
            text = pattern.IsMatch(text)
                ? pattern.Replace(text, section.Replace("$", "$$", StringComparison.Ordinal), 1)
                : text.TrimEnd('\n') + "\n\n" + section;
        }

        File.WriteAllText(path, InOrder(text));
    }

    /// <summary>The page with its figure sections in the order of <see cref="Program.Figures"/> (issue 7's order), whatever order runs wrote them in.</summary>
    private static string InOrder(string text)
    {
        var sections = SectionPattern().Matches(text).ToList();
        if (sections.Count < 2)
        {
            return text;
        }

        var rank = Program.Figures.Select((f, i) => (f.Name, i)).ToDictionary(x => x.Name, x => x.i, StringComparer.Ordinal);
        var ordered = sections.OrderBy(m => rank.GetValueOrDefault(m.Groups["name"].Value, int.MaxValue)).Select(m => m.Value.TrimEnd('\n') + "\n");
        var head = text[..sections[0].Index].TrimEnd('\n');
        return head + "\n\n" + string.Join("\n", ordered);
    }

    [GeneratedRegex(@"<!-- figure:(?<name>[a-z0-9-]+) -->.*?<!-- /figure:\k<name> -->\n?", RegexOptions.Singleline)]
    private static partial Regex SectionPattern();

    /// <summary>One figure's section in markdown.</summary>
    public static string Section(Figure figure, FigureReport report, string machine, DateTimeOffset date, bool quick)
    {
        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"<!-- figure:{figure.Name} -->\n");
        b.Append(CultureInfo.InvariantCulture, $"## {figure.Title}\n\n");
        b.Append(CultureInfo.InvariantCulture, $"Measured {date:yyyy-MM-dd HH:mm} UTC on {machine}{(quick ? " (**quick run**: fewer repetitions)" : string.Empty)}.\n");
        b.Append(CultureInfo.InvariantCulture, $"Reproduce: `dotnet run -c Release --project tests/JailWorkflows.Bench -- {figure.Name}`\n\n");
        b.Append("| Measurement | Value | Compared in the same run | Target | Met |\n|---|---|---|---|---|\n");
        foreach (var m in report.Measurements)
        {
            var met = m.Met switch { true => "yes", false => "**no**", null => string.Empty };
            b.Append(CultureInfo.InvariantCulture, $"| {Cell(m.What)} | {Cell(m.Value)} | {Cell(m.Comparison ?? string.Empty)} | {Cell(m.Target ?? string.Empty)} | {met} |\n");
        }

        b.Append('\n').Append(report.Method.Trim()).Append('\n');
        foreach (var note in report.Notes)
        {
            b.Append("\n- ").Append(note.Trim());
        }

        if (report.Notes.Count > 0)
        {
            b.Append('\n');
        }

        b.Append(CultureInfo.InvariantCulture, $"<!-- /figure:{figure.Name} -->\n");
        return b.ToString();

        static string Cell(string s) => s.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");
    }

    private const string Heading = """
        # Benchmarks

        The figures JailWorkflows publishes (issue 7). Each figure measures our side and its comparison in the same run,
        so a slow or noisy machine slows both and the ratio stays honest. Nothing in the test suite asserts a time;
        these numbers come only from the bench command:

        ```sh
        dotnet run -c Release --project tests/JailWorkflows.Bench -- all          # every figure (needs root: the lab)
        dotnet run -c Release --project tests/JailWorkflows.Bench -- checkpoint   # one figure
        dotnet run -c Release --project tests/JailWorkflows.Bench -- --list       # the figures
        ```

        A run rewrites the sections of the figures it measured and keeps the others; each section names its machine,
        date and command.

        """;
}
