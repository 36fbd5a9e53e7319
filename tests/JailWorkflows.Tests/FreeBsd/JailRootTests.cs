using JailWorkflows.FreeBsd;

namespace JailWorkflows.Tests.FreeBsd;

public sealed class JailRootTests : IDisposable
{
    private readonly string _jails = Directory.CreateTempSubdirectory("jailwf-jailroot-").FullName;

    public void Dispose() => Directory.Delete(_jails, recursive: true);

    [Fact]
    public void Paths_outside_or_unsafe_are_refused()
    {
        var root = JailRoot.Create("/data/jails", "servera");
        Assert.Equal("/data/jails/servera/usr/src", root.Combine("/usr/src"));
        Assert.Equal("/data/jails/servera", root.Combine("/"));
        Assert.Throws<ArgumentException>(() => root.Combine("../serverb"));
        Assert.Throws<ArgumentException>(() => root.Combine("etc/$(reboot)"));
        Assert.Throws<ArgumentException>(() => JailRoot.Create("/data/jails", "../etc"));
        Assert.Throws<ArgumentException>(() => JailRoot.Create("/", "servera"));
        Assert.Throws<ArgumentException>(() => JailRoot.Create("data/jails", "servera"));
    }

    [Fact]
    public void The_symlink_guard_refuses_a_link_on_any_component_and_names_it()
    {
        var root = JailRoot.Create(_jails, "servera");
        Directory.CreateDirectory(Path.Combine(root.Path, "usr/local"));
        var fine = ShellRunner.Run(root.RefuseSymlinks("etc/rc.conf", "usr/local/etc", "var"));
        Assert.Equal(0, fine.Status);

        // A restored etc that points at the jail host's own /etc.
        File.CreateSymbolicLink(Path.Combine(root.Path, "etc"), "/etc");
        var refused = ShellRunner.Run(root.RefuseSymlinks("usr/local", "etc/rc.conf"));
        Assert.Equal(1, refused.Status);
        Assert.Contains($"{root.Path}/etc is a symbolic link", refused.StdOut, StringComparison.Ordinal);

        // A link deeper down is found as well; the jail root itself is checked too.
        Directory.CreateDirectory(Path.Combine(root.Path, "usr/local/www"));
        File.CreateSymbolicLink(Path.Combine(root.Path, "usr/local/www/data"), "/srv");
        Assert.Equal(1, ShellRunner.Run(root.RefuseSymlinks("usr/local/www/data/index.html")).Status);
        var linkedRoot = JailRoot.Create(_jails, "linked");
        File.CreateSymbolicLink(linkedRoot.Path, root.Path);
        Assert.Equal(1, ShellRunner.Run(linkedRoot.RefuseSymlinks()).Status);
    }
}
