using System.Globalization;
using System.Text;

namespace JailWorkflows.Lab;

/// <summary>
/// Builds the partition images of a lab source server: a full FreeBSD-4.x-shaped tree (embedded templates plus
/// generated parts: busybox userland, device nodes, kernel, hard links, a sparse file), split by mount point, each
/// part made into an ext4 image with <c>mke2fs -d</c>, then immutable flags set with debugfs.
/// </summary>
internal static class LabTrees
{
    private const string Busybox = "/bin/busybox";

    /// <summary>Paths (absolute in the server) that get the immutable flag (chattr +i, FreeBSD schg).</summary>
    private static readonly string[] ImmutablePaths = ["/boot/loader", "/kernel", "/usr/src/COPYRIGHT"];

    public static async Task BuildImagesAsync(ServerDefinition server, string serverDir, CancellationToken ct)
    {
        var build = Path.Combine(serverDir, "build");
        if (Directory.Exists(build))
        {
            Directory.Delete(build, recursive: true);
        }

        var tree = Path.Combine(build, "tree");
        Directory.CreateDirectory(tree);
        await WriteTreeAsync(server, tree, ct).ConfigureAwait(false);
        foreach (var p in server.Partitions.Where(p => p.DataMiB > 0))
        {
            WriteData(Path.Combine(tree, p.MountPoint.TrimStart('/')), p.DataMiB, ct);
        }

        // Split: each non-root partition's subtree becomes its own image root.
        var roots = new Dictionary<string, string>(StringComparer.Ordinal) { ["/"] = tree };
        foreach (var p in server.Partitions.Where(p => p.MountPoint != "/").OrderByDescending(p => p.MountPoint.Length))
        {
            var part = Path.Combine(build, Path.GetFileNameWithoutExtension(p.ImageName));
            var inTree = Path.Combine(tree, p.MountPoint.TrimStart('/'));
            Directory.Move(inTree, part);
            Directory.CreateDirectory(inTree);
            roots[p.MountPoint] = part;
        }

        var images = Path.Combine(serverDir, "images");
        Directory.CreateDirectory(images);
        foreach (var p in server.Partitions)
        {
            var image = Path.Combine(images, p.ImageName);
            var temp = image + ".tmp";
            File.Delete(temp);
            var label = p.MountPoint == "/" ? "rootfs" : p.MountPoint.Trim('/');
            await LabProcesses.RunCheckedAsync("mke2fs",
                ["-q", "-F", "-t", "ext4", "-L", label, "-d", roots[p.MountPoint], temp, p.SizeMiB.ToString(CultureInfo.InvariantCulture) + "M"], ct).ConfigureAwait(false);
            // UFS has no lost+found until fsck makes one; keep the lab's partitions like a fresh newfs.
            await LabProcesses.RunCheckedAsync("debugfs", ["-w", "-R", "rmdir /lost+found", temp], ct).ConfigureAwait(false);
            foreach (var path in ImmutablePaths)
            {
                var owner = server.Partitions.Where(q => path.StartsWith(q.MountPoint == "/" ? "/" : q.MountPoint + "/", StringComparison.Ordinal))
                    .MaxBy(q => q.MountPoint.Length);
                if (owner == p)
                {
                    var inImage = p.MountPoint == "/" ? path : path[p.MountPoint.Length..];
                    await SetImmutableAsync(temp, inImage, ct).ConfigureAwait(false);
                }
            }

            File.Move(temp, image, overwrite: true);
        }

        Directory.Delete(build, recursive: true);
    }

    /// <summary>Sets EXT2_IMMUTABLE_FL (0x10) on a file inside an unmounted image, keeping its other flags (extents).</summary>
    private static async Task SetImmutableAsync(string image, string path, CancellationToken ct)
    {
        var stat = await LabProcesses.RunAsync("debugfs", ["-R", $"stat {path}", image], ct).ConfigureAwait(false);
        var marker = "Flags: 0x";
        var at = stat.StdOut.IndexOf(marker, StringComparison.Ordinal);
        if (at < 0)
        {
            throw new LabException($"debugfs could not stat {path} in {image}: {stat.StdErr.Trim()}");
        }

        var hex = new string(stat.StdOut[(at + marker.Length)..].TakeWhile(Uri.IsHexDigit).ToArray());
        var flags = Convert.ToUInt32(hex, 16) | 0x10;
        var set = await LabProcesses.RunAsync("debugfs",
            ["-w", "-R", $"set_inode_field {path} flags 0x{flags.ToString("x", CultureInfo.InvariantCulture)}", image], ct).ConfigureAwait(false);
        if (set.ExitCode != 0 || set.StdErr.Contains("rror", StringComparison.Ordinal))
        {
            throw new LabException($"debugfs could not set the immutable flag on {path} in {image}: {set.StdErr.Trim()}");
        }
    }

    private static async Task WriteTreeAsync(ServerDefinition s, string tree, CancellationToken ct)
    {
        var revision = s.Release[..s.Release.IndexOf('-', StringComparison.Ordinal)];
        var subst = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["NAME"] = s.Name,
            ["FQDN"] = s.Fqdn,
            ["RELEASE"] = s.Release,
            ["REVISION"] = revision,
            ["LANIP"] = s.LanIp,
            ["WEBTEXT"] = s.WebText,
        };
        LabResources.Extract("tree/source/", tree, subst, overwrite: true);

        foreach (var dir in new[] { "bin", "sbin", "boot/defaults", "boot/kernel", "dev", "mnt", "proc", "usr/bin", "usr/sbin", "usr/lib", "usr/libexec",
            "usr/share/misc", "usr/local/bin", "var/run", "var/tmp", "var/db", "var/empty", "var/mail", "var/spool/mqueue", "var/crash", "cdrom" })
        {
            Directory.CreateDirectory(Path.Combine(tree, dir));
        }

        Directory.CreateDirectory(Path.Combine(tree, "tmp"));
        LabProcesses.SetMode(Path.Combine(tree, "tmp"), (UnixFileMode)Convert.ToInt32("1777", 8));
        LabProcesses.SetMode(Path.Combine(tree, "var/tmp"), (UnixFileMode)Convert.ToInt32("1777", 8));
        File.CreateSymbolicLink(Path.Combine(tree, "home"), "usr/home");
        File.CreateSymbolicLink(Path.Combine(tree, "sys"), "usr/src/sys");

        // The userland: busybox-static, with its applets as links where busybox says they live.
        File.Copy(Busybox, Path.Combine(tree, "bin/busybox"));
        LabProcesses.SetMode(Path.Combine(tree, "bin/busybox"), LabProcesses.Executable);
        var applets = await LabProcesses.RunCheckedAsync(Busybox, ["--list-full"], ct).ConfigureAwait(false);
        foreach (var applet in applets.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!applet.Contains('/', StringComparison.Ordinal) || applet == "bin/busybox" || applet.Contains("..", StringComparison.Ordinal))
            {
                continue;
            }

            var link = Path.Combine(tree, applet);
            if (!Directory.Exists(Path.GetDirectoryName(link)) || File.Exists(link) || Directory.Exists(link))
            {
                continue;
            }

            File.CreateSymbolicLink(link, applet.StartsWith("bin/", StringComparison.Ordinal) ? "busybox" : "/bin/busybox");
        }

        // rc.conf, fstab, passwd, dumpdates.
        LabProcesses.WriteText(Path.Combine(tree, "etc/rc.conf"), RcConf(s));
        LabProcesses.WriteText(Path.Combine(tree, "etc/fstab"), Fstab(s));
        LabProcesses.WriteText(Path.Combine(tree, "etc/passwd"), PasswdFrom(File.ReadAllText(Path.Combine(tree, "etc/master.passwd"))));
        LabProcesses.SetMode(Path.Combine(tree, "etc/master.passwd"), LabProcesses.Private);
        LabProcesses.WriteText(Path.Combine(tree, "etc/dumpdates"), string.Empty, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);

        // Kernel and boot blocks (a jail must not carry them).
        WriteBlob(Path.Combine(tree, "kernel"), 256 * 1024, "ELF kernel " + s.Release);
        WriteBlob(Path.Combine(tree, "kernel.old"), 256 * 1024, "ELF kernel.old " + s.Release);
        WriteBlob(Path.Combine(tree, "kernel.GENERIC"), 128 * 1024, "ELF kernel.GENERIC " + s.Release);
        WriteBlob(Path.Combine(tree, "boot/loader"), 64 * 1024, "loader");
        WriteBlob(Path.Combine(tree, "boot/boot0"), 512, "boot0");
        WriteBlob(Path.Combine(tree, "boot/boot1"), 512, "boot1");
        WriteBlob(Path.Combine(tree, "boot/boot2"), 7680, "boot2");
        LabProcesses.WriteText(Path.Combine(tree, "boot/loader.conf"), "# loader.conf\nkern.ipc.nmbclusters=\"32768\"\n");
        LabProcesses.WriteText(Path.Combine(tree, "boot/defaults/loader.conf"), "# $FreeBSD: src/sys/boot/forth/loader.conf,v 1.46.2.18 lab $\nkernel=\"kernel\"\n");
        WriteBlob(Path.Combine(tree, "boot/kernel/linux.ko"), 16 * 1024, "module");

        // 4.x device nodes (real nodes: a restored 4.x /dev holds them; FreeBSD majors, so nothing real behind them).
        var nodes = new (string Name, char Type, int Major, int Minor)[]
        {
            ("console", 'c', 0, 0), ("null", 'c', 2, 2), ("zero", 'c', 2, 12), ("mem", 'c', 2, 0), ("kmem", 'c', 2, 1),
            ("ad0", 'b', 116, 0x00010002), ("ad0s1a", 'b', 116, 0x00030000), ("rad0s1a", 'c', 116, 0x00030000),
            ("ad0s1e", 'b', 116, 0x00030004), ("ad0s1f", 'b', 116, 0x00030005), ("ttyv0", 'c', 12, 0),
        };
        foreach (var (name, type, major, minor) in nodes)
        {
            await LabProcesses.RunCheckedAsync("mknod",
                ["-m", "0640", Path.Combine(tree, "dev", name), type.ToString(), major.ToString(CultureInfo.InvariantCulture), minor.ToString(CultureInfo.InvariantCulture)], ct).ConfigureAwait(false);
        }

        LabProcesses.WriteText(Path.Combine(tree, "dev/MAKEDEV"), "#!/bin/sh -\n# $FreeBSD: src/etc/MAKEDEV,v 1.243.2.57 lab $\necho MAKEDEV: lab stub\n", LabProcesses.Executable);
        File.CreateSymbolicLink(Path.Combine(tree, "dev/stdin"), "fd/0");

        // Hard links (must survive dump | restore as one inode) and a sparse file (holes must stay holes).
        LabProcesses.HardLink(Path.Combine(tree, "usr/local/www/data/index.html"), Path.Combine(tree, "usr/local/www/data/index.html.en"));
        LabProcesses.HardLink(Path.Combine(tree, "var/log/httpd-access.log"), Path.Combine(tree, "var/log/access_log"));
        WriteSparse(Path.Combine(tree, "usr/local/var/db/sessions.db"), 16L * 1024 * 1024, s.Name);
        WriteSparse(Path.Combine(tree, "var/db/locate.database"), 4L * 1024 * 1024, s.Name);
        LabProcesses.WriteText(Path.Combine(tree, "usr/ports/distfiles/apache_1.3.29.tar.gz"), new string('x', 4096));
    }

    private static string RcConf(ServerDefinition s)
    {
        var sb = new StringBuilder();
        sb.Append("# -- sysinstall generated deltas -- # Mon Jun 14 10:22:31 2004\n");
        sb.Append("# Created: Mon Jun 14 10:22:31 2004\n");
        sb.Append("# Enable network daemons for user convenience.\n");
        sb.Append("# Please make all changes to this file, not to /etc/defaults/rc.conf.\n");
        sb.Append("# This file now contains just the overrides from /etc/defaults/rc.conf.\n");
        sb.Append(CultureInfo.InvariantCulture, $"hostname=\"{s.Fqdn}\"\n");
        sb.Append(CultureInfo.InvariantCulture, $"ifconfig_fxp0=\"inet {s.LanIp}  netmask 255.255.255.0\"\n");
        sb.Append("defaultrouter=\"10.11.12.1\"\n");
        sb.Append("kern_securelevel_enable=\"NO\"\n");
        sb.Append("firewall_enable=\"YES\"\n");
        sb.Append("firewall_type=\"/etc/ipfw.rules\"\n");
        sb.Append("keymap=\"german.iso\"\n");
        sb.Append("moused_enable=\"NO\"\n");
        sb.Append("ntpd_enable=\"YES\"\n");
        sb.Append("ntpd_flags=\"-p /var/run/ntpd.pid -c /etc/ntp.conf\"\n");
        sb.Append("sshd_enable=\"YES\"\n");
        sb.Append("sendmail_enable=\"NONE\"\n");
        sb.Append("inetd_enable=\"NO\"\n");
        sb.Append("inetd_flags=\"-wW -C 60\"\n");
        sb.Append("apache_enable=\"YES\"\n");
        switch (s.Key)
        {
            case "servera":
                sb.Append("apache_flags=\"-DSSL\"\n");
                break;
            case "serverb":
                sb.Append("apache_flags=\"-DSSL -DSNAKEOIL\"\n");
                sb.Append("snmpd_enable=\"NO\"\n");
                sb.Append("snmpd_flags=\"-a -p /var/run/snmpd.pid\"\n");
                break;
            default:
                sb.Append("apache_flags=\"\"\n");
                sb.Append("samba_enable=\"YES\"\n");
                sb.Append("ifconfig_fxp0_alias0=\"inet 10.11.12.16 netmask 255.255.255.255\"\n");
                break;
        }

        return sb.ToString();
    }

    private static string Fstab(ServerDefinition s)
    {
        var sb = new StringBuilder();
        sb.Append("# Device\t\tMountpoint\tFStype\tOptions\t\tDump\tPass#\n");
        sb.Append("/dev/ad0s1b\t\tnone\t\tswap\tsw\t\t0\t0\n");
        foreach (var p in s.Partitions)
        {
            var pass = p.MountPoint == "/" ? "1\t1" : "2\t2";
            sb.Append(CultureInfo.InvariantCulture, $"{p.Device}\t\t{p.MountPoint}\t\tufs\trw\t\t{pass}\n");
        }

        if (s.Key == "serverc")
        {
            // 4.7-era habit: an mfs /tmp with nodev. mergemaster(8) exits 1 while fstab mentions nodev.
            sb.Append("/dev/ad0s1b\t\t/tmp\t\tmfs\trw,nosuid,nodev,-s=65536\t0\t0\n");
        }

        sb.Append("/dev/acd0c\t\t/cdrom\t\tcd9660\tro,noauto\t0\t0\n");
        sb.Append("proc\t\t\t/proc\t\tprocfs\trw\t\t0\t0\n");
        return sb.ToString();
    }

    /// <summary>passwd(5) from master.passwd(5): drop class, change and expire; password becomes <c>*</c>.</summary>
    internal static string PasswdFrom(string masterPasswd)
    {
        var sb = new StringBuilder();
        foreach (var line in masterPasswd.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                sb.Append(line).Append('\n');
                continue;
            }

            var f = line.Split(':');
            if (f.Length < 10)
            {
                continue;
            }

            sb.Append(CultureInfo.InvariantCulture, $"{f[0]}:*:{f[2]}:{f[3]}:{f[7]}:{f[8]}:{f[9]}\n");
        }

        return sb.ToString().TrimEnd('\n') + "\n";
    }

    private static void WriteBlob(string path, int size, string header)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var bytes = new byte[size];
        var h = Encoding.ASCII.GetBytes(header);
        Array.Copy(h, bytes, Math.Min(h.Length, size));
        for (var i = h.Length; i < size; i++)
        {
            bytes[i] = (byte)(i * 31 % 251);
        }

        File.WriteAllBytes(path, bytes);
    }

    /// <summary>
    /// <paramref name="mib"/> MiB of incompressible file data below <paramref name="dir"/> (LabOptions.DataPartitionMiB):
    /// a fifth in files of 4 to 64 KiB, the rest in files of 1 to 8 MiB, 256 files a directory; seeded, so the same every time.
    /// </summary>
    private static void WriteData(string dir, int mib, CancellationToken ct)
    {
        var random = new Random(20041210);
        var buffer = new byte[8 * 1024 * 1024];
        long total = (long)mib * 1024 * 1024, small = total / 5, written = 0;
        for (var n = 0; written < total; n++)
        {
            ct.ThrowIfCancellationRequested();
            var size = written < small ? random.Next(1, 17) * 4096 : random.Next(1, 9) * 1024 * 1024;
            size = (int)Math.Min(size, total - written);
            var sub = Path.Combine(dir, string.Create(CultureInfo.InvariantCulture, $"set{n / 256:000}"));
            Directory.CreateDirectory(sub);
            random.NextBytes(buffer.AsSpan(0, size));
            using (var fs = new FileStream(Path.Combine(sub, string.Create(CultureInfo.InvariantCulture, $"f{n:000000}.bin")), FileMode.Create, FileAccess.Write))
            {
                fs.Write(buffer, 0, size);
            }

            written += size;
        }
    }

    private static void WriteSparse(string path, long size, string tag)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write);
        var head = Encoding.ASCII.GetBytes("SPARSE " + tag + " head\n");
        fs.Write(head);
        fs.SetLength(size);
        var tail = Encoding.ASCII.GetBytes("SPARSE " + tag + " tail\n");
        fs.Seek(size - tail.Length, SeekOrigin.Begin);
        fs.Write(tail);
    }
}
