namespace JailWorkflows.Tests.Repository;

/// <summary>README's promises about the repository itself.</summary>
public sealed class ReadmeTests
{
    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "JailWorkflows.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new DirectoryNotFoundException("JailWorkflows.sln not found above the test binaries.");
    }

    [Fact]
    public void CI_runs_exactly_the_test_command_that_README_gives_and_README_starts_with_both_commands()
    {
        var root = RepositoryRoot();
        var readme = File.ReadAllLines(Path.Combine(root, "README.md"));
        var block = readme.SkipWhile(l => l.Trim() != "```sh").Skip(1).TakeWhile(l => l.Trim() != "```").Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        Assert.Equal(2, block.Count);
        Assert.Contains("-- demo", block[0], StringComparison.Ordinal);
        var testCommand = block[1].Trim();
        Assert.Contains("dotnet test JailWorkflows.sln", testCommand, StringComparison.Ordinal);
        var ci = File.ReadAllLines(Path.Combine(root, ".ci", "run")).Select(l => l.Trim());
        Assert.Contains(testCommand, ci);
    }
}
