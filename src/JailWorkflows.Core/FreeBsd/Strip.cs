using JailWorkflows.Shell;

namespace JailWorkflows.FreeBsd;

/// <summary>
/// What the strip step removes from a restored jail root (FREEBSD.md, "The strip step"): the source tree,
/// ports, object tree, boot loader and kernels, and the device nodes in <c>dev/</c> (4.x has real ones; a jail
/// gets devfs). rc.conf and fstab are handled by <see cref="RcConf"/> and <see cref="Fstab"/> after backing up
/// <c>etc/</c>.
/// </summary>
public static class Strip
{
    /// <summary>Paths removed entirely, relative to the jail root.</summary>
    public static IReadOnlyList<string> Paths { get; } = ["usr/src", "usr/ports", "usr/obj", "boot"];

    /// <summary>Entries at the top of the jail root matching this find(1) <c>-name</c> pattern are removed too
    /// (<c>kernel</c>, <c>kernel.old</c>, <c>kernel.GENERIC</c> of 4.x).</summary>
    public const string KernelPattern = "kernel*";

    /// <summary>Directories recreated empty after the removal, relative to the jail root: <c>usr/ports</c> (0755) and <c>dev</c> (0555, root:wheel).</summary>
    public static IReadOnlyList<string> RecreatedEmpty { get; } = ["usr/ports", "dev"];

    /// <summary>Whether a top-level entry of the jail root is a kernel to remove (<see cref="KernelPattern"/>).</summary>
    /// <param name="name">The entry's name (no slash).</param>
    /// <returns>True for <c>kernel</c>, <c>kernel.old</c>….</returns>
    public static bool IsKernelEntry(string name) =>
        name is not null && name.StartsWith("kernel", StringComparison.Ordinal) && !name.Contains('/', StringComparison.Ordinal);

    /// <summary>
    /// One idempotent command that strips the jail root (run with the jail stopped and devfs not mounted on its
    /// <c>dev</c>): refuses when <c>usr</c> is a symbolic link (the paths below it would leave the jail root);
    /// for each of <see cref="Paths"/> that exists, clears file flags (<see cref="Chflags"/>) and removes it; the
    /// same for top-level <c>kernel*</c>; recreates <c>usr/ports</c>; empties <c>dev</c> and sets it 0555 root:wheel
    /// (uid/gid 0); removes <c>restoresymtable</c> from each partition's directory (restore(8) -r leaves it for a later
    /// incremental; a jail has no use for it, e.g. when an operator skipped the cutover's delta). A second run changes
    /// nothing and succeeds.
    /// </summary>
    /// <param name="root">The jail root.</param>
    /// <param name="partitions">The partitions' directories relative to the jail root (<c>.</c> for <c>/</c>, <c>usr</c> for
    /// <c>/usr</c>); none by default.</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException">A partition directory is not a safe path inside the jail root.</exception>
    public static ShellCommand Command(JailRoot root, IEnumerable<string>? partitions = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        var cmd = ShellCommand.Of("cd", root.Path)
            .And(ShellCommand.Of("test", "!", "-h", "usr"))
            .And(ShellCommand.Of("test", "!", "-h", "dev"));
        foreach (var path in Paths)
        {
            var absent = ShellCommand.Of("test", "!", "-e", path).And(ShellCommand.Of("test", "!", "-h", path));
            var remove = Chflags.ClearRecursive(root, path).And(ShellCommand.Of("rm", "-rf", root.Combine(path))).Subshell();
            cmd = cmd.And(absent.Or(remove).Subshell());
        }

        cmd = cmd
            .And(ShellCommand.Of("find", ".", "-mindepth", "1", "-maxdepth", "1", "-name", KernelPattern, "-exec", "chflags", "-R", Chflags.ClearFlags, "{}", "+"))
            .And(ShellCommand.Of("find", ".", "-mindepth", "1", "-maxdepth", "1", "-name", KernelPattern, "-exec", "rm", "-rf", "{}", "+"))
            .And(ShellCommand.Of("mkdir", "-p", "-m", "0755", "usr/ports"))
            .And(ShellCommand.Of("mkdir", "-p", "dev"))
            .And(Chflags.ClearRecursive(root, "dev"))
            .And(ShellCommand.Of("find", "dev", "-mindepth", "1", "-delete"))
            .And(ShellCommand.Of("chmod", "0555", "dev"))
            .And(ShellCommand.Of("chown", "0:0", "dev"));
        foreach (var partition in partitions ?? [])
        {
            cmd = cmd.And(ShellCommand.Of("rm", "-f", partition == "." ? root.Combine("restoresymtable") : root.Combine(partition + "/restoresymtable")));
        }

        return cmd;
    }
}

/// <summary>chflags(1): file flags that make removal and link creation fail.</summary>
public static class Chflags
{
    /// <summary>
    /// The flags cleared before removing a tree: immutable (<c>schg</c>, <c>uchg</c>), append-only (<c>sappnd</c>,
    /// <c>uappnd</c>) and undeletable (<c>sunlnk</c>, <c>uunlnk</c>), system and user variants. Clearing the
    /// system flags needs securelevel &lt;= 0 on the jail host.
    /// </summary>
    public const string ClearFlags = "noschg,nouchg,nosappnd,nouappnd,nosunlnk,nouunlnk";

    /// <summary><c>chflags -R noschg,nouchg,nosappnd,nouappnd,nosunlnk,nouunlnk &lt;jail root&gt;/&lt;relative&gt;</c>.
    /// Symbolic links are not followed (chflags -R defaults to -P).</summary>
    /// <param name="root">The jail root.</param>
    /// <param name="relative">Path inside it (<c>usr/src</c>; <c>/</c> for the whole jail root).</param>
    /// <returns>The command.</returns>
    /// <exception cref="ArgumentException">The path is not a safe path inside the jail root.</exception>
    public static ShellCommand ClearRecursive(JailRoot root, string relative)
    {
        ArgumentNullException.ThrowIfNull(root);
        return ShellCommand.Of("chflags", "-R", ClearFlags, root.Combine(relative));
    }
}
