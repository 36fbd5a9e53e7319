using JailWorkflows.FreeBsd;

namespace JailWorkflows.Tests.FreeBsd;

public class RestoreTests
{
    [Fact]
    public void Command_is_restore_rf_stdin() => Assert.Equal("restore -rf -", Restore.Command().Text);

    [Fact]
    public void Finds_every_failure_phrase()
    {
        var stderr = "Warning: ./usr: File exists\n./etc/motd: cannot create file: Permission denied\nbad entry: x\nset owner/mode for '.'? [yn] \nabort? [yn] ";
        var failures = Restore.FailureIn(stderr);
        Assert.Equal(["cannot create", "bad entry", "abort?"], failures.Select(f => f.Phrase));
        Assert.Equal("./etc/motd: cannot create file: Permission denied", failures[0].Line);
    }

    [Fact]
    public void Clean_output_has_no_failure() =>
        Assert.Empty(Restore.FailureIn("Warning: ./lost+found: File exists\n"));

    [Fact]
    public void Phrases_are_case_insensitive() =>
        Assert.Single(Restore.FailureIn("Cannot create symbolic link ./x->y"));
}
