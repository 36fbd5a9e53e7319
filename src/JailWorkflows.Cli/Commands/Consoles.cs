using Spectre.Console;

namespace JailWorkflows.Cli.Commands;

/// <summary>The consoles jailwf writes to: results on standard output, errors on standard error.</summary>
internal static class Consoles
{
    /// <summary>Standard error.</summary>
    public static IAnsiConsole Error { get; } = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
}
