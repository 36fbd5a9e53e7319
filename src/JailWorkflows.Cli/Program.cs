namespace JailWorkflows.Cli;

/// <summary>The jailwf entry point.</summary>
public static class Program
{
    /// <summary>Runs the command line.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <returns>The process exit code.</returns>
    public static int Main(string[] args) => args.Length == 0 ? 0 : 2;
}
