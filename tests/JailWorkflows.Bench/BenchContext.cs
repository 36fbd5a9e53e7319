using System.Diagnostics;
using System.Runtime.InteropServices;
using Spectre.Console;

namespace JailWorkflows.Bench;

/// <summary>What a figure gets from the bench command.</summary>
internal sealed class BenchContext
{
    private string? _published;

    /// <summary>Creates the context.</summary>
    /// <param name="repositoryRoot">The repository's top directory (has JailWorkflows.sln).</param>
    /// <param name="workDirectory">A scratch directory for this run (databases, trees); removed by the bench command at the end.</param>
    /// <param name="quick">True for a short run (fewer repetitions, smaller sizes), e.g. to check the command works; the page says so.</param>
    /// <param name="console">Where progress goes.</param>
    public BenchContext(string repositoryRoot, string workDirectory, bool quick, IAnsiConsole console)
    {
        RepositoryRoot = repositoryRoot;
        WorkDirectory = workDirectory;
        Quick = quick;
        Console = console;
    }

    /// <summary>The repository's top directory.</summary>
    public string RepositoryRoot { get; }

    /// <summary>A scratch directory of this run.</summary>
    public string WorkDirectory { get; }

    /// <summary>True for a short run.</summary>
    public bool Quick { get; }

    /// <summary>Where progress goes.</summary>
    public IAnsiConsole Console { get; }

    /// <summary>The clock.</summary>
    public TimeProvider Time { get; } = TimeProvider.System;

    /// <summary>
    /// jailwf as README's install publishes it (<c>dotnet publish -c Release -r &lt;rid&gt; --self-contained false
    /// -p:PublishReadyToRun=true</c>: the assemblies precompiled, so little is JIT-compiled at start), published once
    /// per bench run into the work directory (figures run one after another, so no lock).
    /// </summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The published jailwf.dll.</returns>
    /// <exception cref="InvalidOperationException">dotnet publish failed (its output is in the message).</exception>
    public async Task<string> PublishedJailwfAsync(CancellationToken cancellationToken)
    {
        if (_published is not null)
        {
            return _published;
        }

        var output = Path.Combine(WorkDirectory, "published");
        Progress($"publishing jailwf ReadyToRun for {RuntimeInformation.RuntimeIdentifier} (README's install)");
        var project = Path.Combine(RepositoryRoot, "src", "JailWorkflows.Cli", "JailWorkflows.Cli.csproj");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "publish", project, "-c", "Release", "-r", RuntimeInformation.RuntimeIdentifier, "--self-contained", "false", "-p:PublishReadyToRun=true", "-o", output, "-nologo", "-v:q" })
        {
            info.ArgumentList.Add(arg);
        }

        using var publish = Process.Start(info) ?? throw new InvalidOperationException("dotnet publish did not start");
        var stdout = publish.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = publish.StandardError.ReadToEndAsync(cancellationToken);
        await publish.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (publish.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet publish exited {publish.ExitCode}:\n{await stdout.ConfigureAwait(false)}\n{await stderr.ConfigureAwait(false)}");
        }

        _published = Path.Combine(output, "jailwf.dll");
        return _published;
    }

    /// <summary>Writes a progress line.</summary>
    /// <param name="message">The line (plain text).</param>
    public void Progress(string message) => Console.MarkupLineInterpolated($"[grey]{Time.GetLocalNow():HH:mm:ss}[/] {message}");

    /// <summary>The machine in one line: CPU model, cores, memory, kernel, .NET.</summary>
    /// <returns>E.g. "Intel Xeon ... (2 cores), 24 GiB, Linux 6.1.0, .NET 10.0.1".</returns>
    public static string Machine()
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        var memKiB = File.Exists("/proc/meminfo")
            ? File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal))?.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]
            : null;
        var mem = long.TryParse(memKiB, System.Globalization.CultureInfo.InvariantCulture, out var kib) ? $"{kib / 1024.0 / 1024.0:0.#} GiB" : "? GiB";
        var kernel = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : RuntimeInformation.OSDescription;
        return $"{cpu ?? RuntimeInformation.ProcessArchitecture.ToString()} ({Environment.ProcessorCount} cores), {mem}, Linux {kernel}, {RuntimeInformation.FrameworkDescription}";
    }
}
