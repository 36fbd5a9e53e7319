using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using JailWorkflows.Plans;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace JailWorkflows.Lab;

/// <summary>
/// The lab of shared/LAB.md: FreeBSD-like hosts on this Linux machine. <see cref="UpAsync"/> builds and starts the
/// source servers ServerA/B/C (ext4 partition images on loop devices, an sshd with 2004-era algorithms each, shims for
/// <c>uname</c>, <c>mount -p</c>, <c>dump</c>) and the jail host (an sshd on 127.0.10.1 whose PATH puts the jail,
/// jls, jexec, daemon, make, mergemaster, ... shims first, and a lab-size <c>/usr/src</c>). Everything lives below
/// <see cref="LabOptions.Directory"/> and is recorded in a state file, so <see cref="DownAsync"/> removes exactly
/// that. Needs root. Only loopback addresses are used.
/// </summary>
public sealed partial class Lab
{
    private static readonly (string Package, string Probe)[] RequiredPackages =
    [
        ("dump", "/usr/sbin/dump"),
        ("openssh-server", "/usr/sbin/sshd"),
        ("openssh-client", "/usr/bin/ssh"),
        ("bmake", "/usr/bin/bmake"),
        ("busybox-static", "/bin/busybox"),
        ("e2fsprogs", "/usr/sbin/mke2fs"),
        ("util-linux", "/usr/bin/unshare"),
        ("mount", "/sbin/losetup"),
        ("diffutils", "/usr/bin/diff3"),
    ];

    private readonly LabOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    /// <summary>Creates a lab handle; nothing happens until <see cref="UpAsync"/>.</summary>
    /// <param name="options">Lab settings (the directory must be absolute or is made absolute; no whitespace).</param>
    /// <param name="logger">Progress messages; null for none.</param>
    /// <param name="timeProvider">Clock for deadlines and the state file; null for the system clock.</param>
    /// <exception cref="ArgumentException">The directory is empty, <c>/</c>, or contains whitespace.</exception>
    public Lab(LabOptions options, ILogger<Lab>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var dir = Path.GetFullPath(options.Directory).TrimEnd('/');
        if (dir.Length == 0 || dir.Any(char.IsWhiteSpace) || dir.Contains('\'', StringComparison.Ordinal))
        {
            throw new ArgumentException($"The lab directory '{options.Directory}' must be an absolute path other than / without whitespace or quotes.", nameof(options));
        }

        _options = options;
        Directory = dir;
        _logger = logger ?? NullLogger<Lab>.Instance;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The lab directory (absolute).</summary>
    public string Directory { get; }

    /// <summary>The state file: <c>&lt;lab&gt;/lab-state.json</c>.</summary>
    public string StateFile => Path.Combine(Directory, LabLayout.StateFileName);

    private string JailHostDir => Path.Combine(Directory, LabLayout.JailHostKey);

    private string UserKeyFile => Path.Combine(Directory, LabLayout.KeysDirName, "id_rsa");

    private string TransferKeyFile => Path.Combine(JailHostDir, "root/.ssh/id_rsa");

    private string ServerDir(ServerDefinition s) => Path.Combine(Directory, s.Key);

    /// <summary>The source servers of this lab (<see cref="LabLayout.Servers"/>, with ServerA's <c>/data</c> when <see cref="LabOptions.DataPartitionMiB"/> is set).</summary>
    private IReadOnlyList<ServerDefinition> Servers => LabLayout.ServersWith(_options.DataPartitionMiB);

    /// <summary>
    /// Describes the lab (addresses, directories, pinned host keys read from the host key .pub files, loop devices
    /// from the state file) without starting anything. Host keys are empty strings before the first <see cref="UpAsync"/>.
    /// </summary>
    /// <returns>The lab's description.</returns>
    public LabInfo Describe()
    {
        var state = LabState.Load(StateFile);
        string HostKey(string pub) => File.Exists(pub)
            ? string.Join(' ', File.ReadAllText(pub).Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(2)).Trim()
            : string.Empty;

        var jh = JailHostDir;
        return new LabInfo
        {
            Directory = Directory,
            StateFile = StateFile,
            UserKeyFile = UserKeyFile,
            JailHost = new LabJailHost
            {
                Ssh = new SshEndpoint
                {
                    Address = LabLayout.JailHostAddress,
                    Port = LabLayout.SshPort,
                    User = "root",
                    KeyFile = UserKeyFile,
                    HostKey = HostKey(Path.Combine(jh, "sshd/ssh_host_ed25519_key.pub")),
                },
                Directory = jh,
                BinDir = Path.Combine(jh, "bin"),
                JailsDir = Path.Combine(jh, "jails"),
                SrcDir = Path.Combine(jh, "usr/src"),
                ObjDir = Path.Combine(jh, "usr/obj"),
                JobsDir = Path.Combine(jh, "jobs"),
                StateDir = Path.Combine(jh, "var/db/jailwf"),
                JailConfDir = Path.Combine(jh, "etc/jail.conf.d"),
                JailRunDir = Path.Combine(jh, "var/run/jails"),
                TransferKeyFile = TransferKeyFile,
                Release = LabLayout.JailHostRelease,
            },
            Servers = Servers.Select(s => new LabSourceServer
            {
                Name = s.Name,
                Ssh = new SshEndpoint
                {
                    Address = s.Address,
                    Port = LabLayout.SshPort,
                    User = "root",
                    KeyFile = UserKeyFile,
                    HostKey = HostKey(Path.Combine(ServerDir(s), "sshd/ssh_host_rsa_key.pub")),
                    LegacySsh = true,
                },
                Release = s.Release,
                Hostname = s.Fqdn,
                Directory = ServerDir(s),
                Partitions = s.Partitions.Select(p => new LabPartition
                {
                    MountPoint = p.MountPoint,
                    Device = p.Device,
                    ImageFile = Path.Combine(ServerDir(s), "images", p.ImageName),
                    LoopDevice = state?.Loops.FirstOrDefault(l => l.Host == s.Key && l.MountPoint == p.MountPoint)?.Device,
                }).ToList(),
                Jail = new JailSpec { Name = s.Key, Hostname = s.Name, Ip = s.JailIp },
                WebContent = s.WebText,
            }).ToList(),
        };
    }

    /// <summary>
    /// Brings the lab up, or repairs it: checks (and on Debian as root installs) the packages it needs, creates keys,
    /// trees, partition images, loop devices, shims and sshd configurations that are missing, starts the sshds that do
    /// not run, and waits (with a deadline) until each accepts connections. What already runs is reused: a second call
    /// starts nothing new.
    /// </summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The lab's description (endpoints with pinned host keys, directories, partitions).</returns>
    /// <exception cref="LabException">Not root; another process holds the <see cref="LabLease"/>; packages missing and
    /// not installable; an address of the lab is in use (e.g. by another lab directory, named in the message); a step failed.</exception>
    public async Task<LabInfo> UpAsync(CancellationToken cancellationToken = default)
    {
        RequireRoot();
        using var lease = LeaseForOneOperation();
        await EnsurePackagesAsync(cancellationToken).ConfigureAwait(false);
        var created = !System.IO.Directory.Exists(Directory);
        System.IO.Directory.CreateDirectory(Directory);
        var labLock = AcquireLock();
        using var releaseLock = labLock;

        var state = LabState.Load(StateFile) ?? new LabState { Directory = Directory, CreatedAt = _time.GetUtcNow() };
        try
        {
            CheckAddresses(state);
        }
        catch (LabException) when (!File.Exists(StateFile))
        {
            // Leave nothing behind when this lab never came up.
            await labLock.DisposeAsync().ConfigureAwait(false);
            File.Delete(Path.Combine(Directory, LabLayout.LockFileName));
            if (created && !System.IO.Directory.EnumerateFileSystemEntries(Directory).Any())
            {
                System.IO.Directory.Delete(Directory);
            }

            throw;
        }

        state.Save(StateFile, _time);
        LogUp(_logger, Directory);

        await EnsureKeysAsync(cancellationToken).ConfigureAwait(false);
        foreach (var server in Servers)
        {
            await EnsureServerAsync(server, state, cancellationToken).ConfigureAwait(false);
        }

        await EnsureJailHostAsync(state, cancellationToken).ConfigureAwait(false);

        var info = Describe();
        LogReady(_logger, Directory);
        return info;
    }

    /// <summary>
    /// Tears the lab down: kills the jails and host jobs the shims recorded, stops the recorded sshds (each by pid,
    /// only while it is still the recorded process), detaches the recorded loop devices (only while they still carry
    /// the lab's image), then removes what UpAsync created in the lab directory (clearing immutable flags first) and the
    /// state file. Nothing else is touched. A lab that is not up is left as it is.
    /// </summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <exception cref="LabException">Not root, another process holds the <see cref="LabLease"/>, or a step failed.</exception>
    public async Task DownAsync(CancellationToken cancellationToken = default)
    {
        RequireRoot();
        using var lease = LeaseForOneOperation();
        if (!System.IO.Directory.Exists(Directory))
        {
            return;
        }

        var state = LabState.Load(StateFile);
        if (state is null)
        {
            LogNothingToDo(_logger, Directory);
            return;
        }

        using (AcquireLock())
        {
            LogDown(_logger, Directory);
            foreach (var jail in ReadRecords(Path.Combine(JailHostDir, "var/run/jails")))
            {
                await EndRecordedAsync(jail, "pid", "starttime", killAtOnce: true, group: false, cancellationToken).ConfigureAwait(false);
                await EndRecordedAsync(jail, "upid", "ustarttime", killAtOnce: true, group: false, cancellationToken).ConfigureAwait(false);
            }

            foreach (var job in ReadRecords(Path.Combine(JailHostDir, "var/run/daemon")))
            {
                await EndRecordedAsync(job, "pid", "starttime", killAtOnce: false, group: true, cancellationToken).ConfigureAwait(false);
            }

            foreach (var sshd in state.Sshds.ToList())
            {
                await LabProcesses.EndAsync(sshd.Pid, sshd.StartTime, killAtOnce: false, TimeSpan.FromSeconds(5), _time, cancellationToken).ConfigureAwait(false);
                state.Sshds.Remove(sshd);
                state.Save(StateFile, _time);
            }

            foreach (var loop in state.Loops.ToList())
            {
                if (LoopCarries(loop.Device, loop.Image))
                {
                    await LabProcesses.RunCheckedAsync("losetup", ["-d", loop.Device], cancellationToken).ConfigureAwait(false);
                }

                state.Loops.Remove(loop);
                state.Save(StateFile, _time);
            }

            foreach (var entry in LabLayout.TopLevelEntries.Where(e => e != LabLayout.StateFileName))
            {
                var path = Path.Combine(Directory, entry);
                if (System.IO.Directory.Exists(path))
                {
                    await LabProcesses.RunAsync("chattr", ["-R", "-f", "-i", path], cancellationToken).ConfigureAwait(false);
                    await LabProcesses.RunCheckedAsync("rm", ["-rf", "--one-file-system", "--", path], cancellationToken).ConfigureAwait(false);
                }
            }

            File.Delete(StateFile);
            File.Delete(Path.Combine(Directory, LabLayout.LockFileName));
        }

        if (!System.IO.Directory.EnumerateFileSystemEntries(Directory).Any())
        {
            System.IO.Directory.Delete(Directory);
        }

        LogDownDone(_logger, Directory);
    }

    /// <summary>Reports what the state file and the shims' records list and whether each is there.</summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The status; <see cref="LabStatus.IsUp"/> when every sshd runs and every loop device carries its image.</returns>
    public Task<LabStatus> StatusAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var state = LabState.Load(StateFile);
        var components = new List<LabComponentStatus>();
        if (state is not null)
        {
            foreach (var s in state.Sshds)
            {
                var running = LabProcesses.IsSameProcess(s.Pid, s.StartTime) && AcceptsSsh(s.Address, s.Port, TimeSpan.FromSeconds(2));
                components.Add(new LabComponentStatus(s.Host, LabComponentKind.Sshd, $"{s.Address}:{s.Port}", $"pid {s.Pid}", running));
            }

            foreach (var l in state.Loops)
            {
                components.Add(new LabComponentStatus(l.Host, LabComponentKind.LoopDevice, l.MountPoint, $"{l.Device} ({l.Image})", LoopCarries(l.Device, l.Image)));
            }

            foreach (var j in ReadRecords(Path.Combine(JailHostDir, "var/run/jails")))
            {
                var pid = int.Parse(j.GetValueOrDefault("pid", "0"), CultureInfo.InvariantCulture);
                var start = long.Parse(j.GetValueOrDefault("starttime", "0"), CultureInfo.InvariantCulture);
                components.Add(new LabComponentStatus(LabLayout.JailHostKey, LabComponentKind.Jail, j.GetValueOrDefault("name", "?"),
                    $"jid {j.GetValueOrDefault("jid", "?")} pid {pid} {j.GetValueOrDefault("ip", "")} {j.GetValueOrDefault("path", "")}", LabProcesses.IsSameProcess(pid, start)));
            }

            foreach (var d in ReadRecords(Path.Combine(JailHostDir, "var/run/daemon")))
            {
                var pid = int.Parse(d.GetValueOrDefault("pid", "0"), CultureInfo.InvariantCulture);
                var start = long.Parse(d.GetValueOrDefault("starttime", "0"), CultureInfo.InvariantCulture);
                components.Add(new LabComponentStatus(LabLayout.JailHostKey, LabComponentKind.HostJob, d.GetValueOrDefault("pidfile", "?"),
                    $"pid {pid}: {d.GetValueOrDefault("command", "")}", LabProcesses.IsSameProcess(pid, start)));
            }
        }

        return Task.FromResult(new LabStatus
        {
            Directory = Directory,
            StateFile = StateFile,
            StateFileExists = state is not null,
            Components = components,
        });
    }

    private static void RequireRoot()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new LabException("The lab needs root (loop devices, namespaces, sshd on port 22 of loopback addresses): run it as root.");
        }
    }

    /// <summary>
    /// Up and down run under the machine's lab lease: the one this process holds (a test fixture's), or one taken for
    /// the operation. Refused while another process holds it.
    /// </summary>
    private static LabLease? LeaseForOneOperation()
    {
        if (LabLease.HeldByThisProcess)
        {
            return null;
        }

        return LabLease.TryAcquire()
            ?? throw new LabException($"Another process holds the lab lease ({LabLease.LockFile}): a test run or a demo is using the lab. Wait until it has finished.");
    }

    private FileStream AcquireLock()
    {
        var path = Path.Combine(Directory, LabLayout.LockFileName);
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new LabException($"Another jailwf lab command is working on {Directory} (lock {path} is held); wait for it to finish.", e);
        }
    }

    private async Task EnsurePackagesAsync(CancellationToken ct)
    {
        var missing = new List<string>();
        var hasDpkg = File.Exists("/usr/bin/dpkg-query");
        foreach (var (package, probe) in RequiredPackages)
        {
            if (hasDpkg)
            {
                var r = await LabProcesses.RunAsync("dpkg-query", ["-W", "-f=${db:Status-Abbrev}", package], ct).ConfigureAwait(false);
                if (r.ExitCode != 0 || !r.StdOut.StartsWith("ii", StringComparison.Ordinal))
                {
                    missing.Add(package);
                }
            }
            else if (!File.Exists(probe))
            {
                missing.Add(package);
            }
        }

        if (missing.Count == 0)
        {
            return;
        }

        if (!hasDpkg || !File.Exists("/etc/debian_version") || !_options.InstallMissingPackages)
        {
            throw new LabException($"The lab needs these packages, which are missing: {string.Join(", ", missing)}. Install them (Debian: apt-get install {string.Join(' ', missing)}).");
        }

        LogInstalling(_logger, string.Join(' ', missing));

        // Keep maintainer scripts from starting services (an openssh-server install would start sshd on 0.0.0.0:22).
        const string policy = "/usr/sbin/policy-rc.d";
        var ownPolicy = !File.Exists(policy);
        if (ownPolicy)
        {
            LabProcesses.WriteText(policy, "#!/bin/sh\n# jailwf lab: no service starts during package installation\nexit 101\n", LabProcesses.Executable);
        }

        try
        {
            var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["DEBIAN_FRONTEND"] = "noninteractive" };
            await LabProcesses.RunCheckedAsync("apt-get", ["update"], ct, env).ConfigureAwait(false);
            await LabProcesses.RunCheckedAsync("apt-get", ["install", "-y", "--no-install-recommends", .. missing], ct, env).ConfigureAwait(false);
        }
        catch (LabException e)
        {
            throw new LabException($"Installing the lab's packages ({string.Join(", ", missing)}) failed: {e.Message}", e);
        }
        finally
        {
            if (ownPolicy)
            {
                File.Delete(policy);
            }
        }
    }

    /// <summary>Fails when an address the lab needs is held by something that is not this lab's recorded sshd.</summary>
    private void CheckAddresses(LabState state)
    {
        var wanted = LabLayout.Servers.Select(s => (Host: s.Key, s.Address)).Append((Host: LabLayout.JailHostKey, Address: LabLayout.JailHostAddress));
        foreach (var (host, address) in wanted)
        {
            var ours = state.Sshds.FirstOrDefault(s => s.Host == host);
            if (ours is not null && LabProcesses.IsSameProcess(ours.Pid, ours.StartTime))
            {
                continue;
            }

            if (CanBind(address, LabLayout.SshPort))
            {
                continue;
            }

            throw new LabException(DescribeHolder(address, LabLayout.SshPort));
        }
    }

    private static bool CanBind(string address, int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Parse(address), port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Names who holds address:port: another lab's sshd (from its command line and config) or some process.</summary>
    private string DescribeHolder(string address, int port)
    {
        foreach (var dir in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            // sshd rewrites its argv ("sshd: /usr/sbin/sshd -D -e -f <config> [listener] ..."): read words.
            var words = LabProcesses.CommandLine(pid).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 3 || !words[0].Contains("sshd", StringComparison.Ordinal))
            {
                continue;
            }

            var f = Array.IndexOf(words, "-f");
            if (f < 0 || f + 1 >= words.Length)
            {
                continue;
            }

            var config = words[f + 1];
            string[] lines;
            try
            {
                lines = File.ReadAllLines(config);
            }
            catch (IOException)
            {
                continue;
            }

            if (!lines.Any(l => l.Trim() == $"ListenAddress {address}:{port}" || l.Trim() == $"ListenAddress {address}"))
            {
                continue;
            }

            var otherLab = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(config)));
            if (otherLab is not null && File.Exists(Path.Combine(otherLab, LabLayout.StateFileName)) && otherLab != Directory)
            {
                return $"Address {address}:{port} is in use by the lab in {otherLab} (state file {Path.Combine(otherLab, LabLayout.StateFileName)}, sshd pid {pid}). "
                    + $"The lab's addresses are fixed, so only one lab can run at a time: bring that one down first (jailwf lab down --directory {otherLab}).";
            }

            return $"Address {address}:{port} is in use by sshd pid {pid} (-f {config}), which this lab ({Directory}) did not start.";
        }

        return $"Address {address}:{port} is in use by another process (is an sshd listening on 0.0.0.0:{port}?); the lab needs it. Free it and run up again.";
    }

    private async Task EnsureKeysAsync(CancellationToken ct)
    {
        await EnsureKeyAsync(UserKeyFile, "rsa", "jailwf-lab-engine", ct).ConfigureAwait(false);
        await EnsureKeyAsync(TransferKeyFile, "rsa", "jailwf-lab-transfer@jailhost", ct).ConfigureAwait(false);
    }

    private static async Task EnsureKeyAsync(string file, string type, string comment, CancellationToken ct)
    {
        if (File.Exists(file) && File.Exists(file + ".pub"))
        {
            return;
        }

        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.Delete(file);
        File.Delete(file + ".pub");
        var args = new List<string> { "-q", "-t", type, "-N", string.Empty, "-C", comment, "-f", file };
        if (type == "rsa")
        {
            // PEM: readable by every SSH client, old and new.
            args.InsertRange(0, ["-b", "2048", "-m", "PEM"]);
        }

        await LabProcesses.RunCheckedAsync("ssh-keygen", args, ct).ConfigureAwait(false);
    }

    private async Task EnsureServerAsync(ServerDefinition server, LabState state, CancellationToken ct)
    {
        var dir = ServerDir(server);
        foreach (var sub in new[] { "bin", "libexec", "etc", "root", "sshd", "images", "tmp" })
        {
            System.IO.Directory.CreateDirectory(Path.Combine(dir, sub));
        }

        // Images: built once; a missing image is rebuilt.
        var images = server.Partitions.Select(p => Path.Combine(dir, "images", p.ImageName)).ToList();
        if (images.Any(i => !File.Exists(i)))
        {
            foreach (var stale in state.Loops.Where(l => l.Host == server.Key).ToList())
            {
                if (LoopCarries(stale.Device, stale.Image))
                {
                    await LabProcesses.RunCheckedAsync("losetup", ["-d", stale.Device], ct).ConfigureAwait(false);
                }

                state.Loops.Remove(stale);
            }

            state.Save(StateFile, _time);
            LogBuildingImages(_logger, server.Name);
            await LabTrees.BuildImagesAsync(server, dir, ct).ConfigureAwait(false);
        }

        // Loop devices: reuse the recorded one while it carries our image, else attach.
        foreach (var p in server.Partitions)
        {
            var image = Path.Combine(dir, "images", p.ImageName);
            var rec = state.Loops.FirstOrDefault(l => l.Host == server.Key && l.MountPoint == p.MountPoint);
            if (rec is not null && LoopCarries(rec.Device, image))
            {
                continue;
            }

            if (rec is not null)
            {
                state.Loops.Remove(rec);
            }

            var device = (await LabProcesses.RunCheckedAsync("losetup", ["-f", "--show", image], ct).ConfigureAwait(false)).Trim();
            state.Loops.Add(new LoopRecord { Host = server.Key, MountPoint = p.MountPoint, Device = device, Image = image });
            state.Save(StateFile, _time);
            LogLoop(_logger, server.Name, p.MountPoint, device);
        }

        // Shims and their configuration.
        LabResources.Extract("shims/bin-common/", Path.Combine(dir, "bin"), null, overwrite: true);
        LabResources.Extract("shims/source/", Path.Combine(dir, "bin"), null, overwrite: true);
        LabResources.Extract("shims/libexec/", Path.Combine(dir, "libexec"), null, overwrite: true);
        LabProcesses.WriteText(Path.Combine(dir, "etc/lab-host.conf"), ShellVars(
            ("LAB_DIR", Directory),
            ("LAB_HOST_DIR", dir),
            ("LAB_HOST_NAME", server.Name),
            ("LAB_HOST_FQDN", server.Fqdn),
            ("LAB_RELEASE", server.Release),
            ("LAB_LAN_IP", server.LanIp),
            ("LAB_ADDRESS", server.Address),
            ("LAB_MACHINE", "i386"),
            ("LAB_KERNEL_BUILD", "#0: Tue May 25 22:47:12 GMT 2004     root@builder.example.org:/usr/obj/usr/src/sys/GENERIC")));
        var partitions = new StringBuilder();
        foreach (var p in server.Partitions)
        {
            var loop = state.Loops.First(l => l.Host == server.Key && l.MountPoint == p.MountPoint);
            partitions.Append(CultureInfo.InvariantCulture, $"{p.MountPoint} {p.Device} {loop.Device} {loop.Image}\n");
        }

        LabProcesses.WriteText(Path.Combine(dir, "etc/partitions"), partitions.ToString());
        if (!File.Exists(Path.Combine(dir, "etc/dumpdates")))
        {
            LabProcesses.WriteText(Path.Combine(dir, "etc/dumpdates"), string.Empty);
        }

        // sshd: legacy algorithms only.
        var hostKey = Path.Combine(dir, "sshd/ssh_host_rsa_key");
        await EnsureKeyAsync(hostKey, "rsa", $"root@{server.Fqdn}", ct).ConfigureAwait(false);
        LabProcesses.WriteText(Path.Combine(dir, "sshd/authorized_keys"),
            File.ReadAllText(UserKeyFile + ".pub") + File.ReadAllText(TransferKeyFile + ".pub"));
        var config = Path.Combine(dir, "sshd/sshd_config");
        LabProcesses.WriteText(config, SshdConfig(
            $"{server.Name} (FreeBSD {server.Release}): OpenSSH 3.x era algorithms only",
            server.Address, hostKey, dir,
            """
            # 2004-era algorithms (FreeBSD 4.x shipped OpenSSH 3.x). Debian 12's sshd accepts all of them.
            KexAlgorithms diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1
            HostKeyAlgorithms ssh-rsa
            Ciphers aes128-ctr,aes128-cbc,3des-cbc
            MACs hmac-sha1,hmac-md5
            # The user key is RSA. rsa-sha2-* signatures are accepted too: this sshd announces them in
            # server-sig-algs (ext-info cannot be switched off), so clients that honour it sign with them; a real
            # OpenSSH 3.x sends no ext-info and clients fall back to ssh-rsa.
            PubkeyAcceptedAlgorithms ssh-rsa,rsa-sha2-256,rsa-sha2-512
            """));
        await EnsureSshdAsync(server.Key, server.Address, config, state, ct).ConfigureAwait(false);
    }

    private async Task EnsureJailHostAsync(LabState state, CancellationToken ct)
    {
        var jh = JailHostDir;
        foreach (var sub in new[] { "bin", "libexec", "etc/jail.conf.d", "root/.ssh", "sshd", "jails", "usr/src", "usr/obj", "jobs", "var/db/jailwf", "var/run/jails", "var/run/daemon", "tmp" })
        {
            System.IO.Directory.CreateDirectory(Path.Combine(jh, sub));
        }

        LabResources.Extract("shims/bin-common/", Path.Combine(jh, "bin"), null, overwrite: true);
        LabResources.Extract("shims/jailhost/", Path.Combine(jh, "bin"), null, overwrite: true);
        LabResources.Extract("shims/libexec/", Path.Combine(jh, "libexec"), null, overwrite: true);
        LabResources.Extract("tree/world/", Path.Combine(jh, "usr/src"), null, overwrite: false);
        var labConf = Path.Combine(jh, "usr/src/lab.conf");
        if (_options.BuildStageSeconds is { } seconds && !File.Exists(labConf))
        {
            LabProcesses.WriteText(labConf, $"# lab knobs of the lab's buildworld (see Makefile.inc1)\nLAB_STAGE_SECONDS={seconds.ToString(CultureInfo.InvariantCulture)}\n");
        }

        LabProcesses.WriteText(Path.Combine(jh, "etc/lab-host.conf"), ShellVars(
            ("LAB_DIR", Directory),
            ("LAB_HOST_DIR", jh),
            ("LAB_HOST_NAME", "jailhost"),
            ("LAB_HOST_FQDN", LabLayout.JailHostFqdn),
            ("LAB_RELEASE", LabLayout.JailHostRelease),
            ("LAB_MACHINE", "amd64"),
            ("LAB_KERNEL_BUILD", "releng/14.1-n267679-10e31f0946d8 GENERIC"),
            ("LAB_SRCDIR", Path.Combine(jh, "usr/src")),
            ("LAB_OBJDIR", Path.Combine(jh, "usr/obj")),
            ("LAB_JAIL_CONF_DIR", Path.Combine(jh, "etc/jail.conf.d")),
            ("LAB_JAIL_RUN_DIR", Path.Combine(jh, "var/run/jails")),
            ("LAB_DAEMON_RUN_DIR", Path.Combine(jh, "var/run/daemon"))));

        var hostKey = Path.Combine(jh, "sshd/ssh_host_ed25519_key");
        await EnsureKeyAsync(hostKey, "ed25519", $"root@{LabLayout.JailHostFqdn}", ct).ConfigureAwait(false);
        LabProcesses.WriteText(Path.Combine(jh, "sshd/authorized_keys"), File.ReadAllText(UserKeyFile + ".pub"));
        var config = Path.Combine(jh, "sshd/sshd_config");
        LabProcesses.WriteText(config, SshdConfig($"jail host (FreeBSD {LabLayout.JailHostRelease}): modern algorithms", LabLayout.JailHostAddress, hostKey, jh, "# Default (modern) algorithms.\n"));
        await EnsureSshdAsync(LabLayout.JailHostKey, LabLayout.JailHostAddress, config, state, ct).ConfigureAwait(false);
    }

    private static string SshdConfig(string title, string address, string hostKey, string hostDir, string algorithms)
    {
        var sshd = Path.Combine(hostDir, "sshd");
        return $"""
            # jailwf lab: {title}. Written by the lab on every up.
            ListenAddress {address}:{LabLayout.SshPort}
            HostKey {hostKey}
            PidFile {sshd}/sshd.pid
            AuthorizedKeysFile {sshd}/authorized_keys
            PermitRootLogin prohibit-password
            PubkeyAuthentication yes
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            UseDNS no
            PrintMotd no
            PrintLastLog no
            X11Forwarding no
            AllowTcpForwarding no
            MaxStartups 50:30:200
            MaxSessions 50
            # The host's shims come first. HOME points at the host's own root directory, so the login shell does not
            # read this machine's /root/.bashrc (which would put other directories before the shims); TMPDIR keeps
            # restore(8)'s rstdir/rstmode files in the lab.
            SetEnv PATH={hostDir}/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME={hostDir}/root TMPDIR={hostDir}/tmp
            Subsystem sftp /usr/lib/openssh/sftp-server
            {algorithms}
            """;
    }

    private async Task EnsureSshdAsync(string host, string address, string config, LabState state, CancellationToken ct)
    {
        var rec = state.Sshds.FirstOrDefault(s => s.Host == host);
        if (rec is not null && LabProcesses.IsSameProcess(rec.Pid, rec.StartTime))
        {
            await WaitForSshAsync(address, rec.Pid, rec.StartTime, Path.Combine(Path.GetDirectoryName(config)!, "sshd.log"), ct).ConfigureAwait(false);
            return;
        }

        if (rec is not null)
        {
            state.Sshds.Remove(rec);
            state.Save(StateFile, _time);
        }

        var test = await LabProcesses.RunAsync("/usr/sbin/sshd", ["-t", "-f", config], ct).ConfigureAwait(false);
        if (test.ExitCode != 0)
        {
            throw new LabException($"sshd rejects the lab's configuration {config}: {test.StdErr.Trim()}");
        }

        System.IO.Directory.CreateDirectory("/run/sshd");
        var sshdDir = Path.GetDirectoryName(config)!;
        var pidFile = Path.Combine(sshdDir, "sshd.pid");
        var log = Path.Combine(sshdDir, "sshd.log");
        File.Delete(pidFile);

        // -D: the daemonising mode resets every connection on these machines. setsid -f detaches it from us.
        await LabProcesses.RunCheckedAsync("setsid",
            ["-f", "/bin/sh", "-c", "exec \"$0\" -D -e -f \"$1\" </dev/null >>\"$2\" 2>&1", "/usr/sbin/sshd", config, log], ct).ConfigureAwait(false);

        var deadline = _time.GetUtcNow() + _options.SshdStartTimeout;
        int pid;
        long start;
        while (true)
        {
            if (File.Exists(pidFile)
                && int.TryParse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture, out pid)
                && LabProcesses.StartTime(pid) is { } s)
            {
                start = s;
                break;
            }

            if (_time.GetUtcNow() > deadline)
            {
                throw new LabException($"The sshd of {host} ({address}:22) did not start within {_options.SshdStartTimeout.TotalSeconds:0}s. Its log {log}:\n{Tail(log)}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), _time, ct).ConfigureAwait(false);
        }

        state.Sshds.Add(new SshdRecord { Host = host, Address = address, Pid = pid, StartTime = start, Config = config });
        state.Save(StateFile, _time);
        LogSshd(_logger, host, address, pid);
        await WaitForSshAsync(address, pid, start, log, ct).ConfigureAwait(false);
    }

    /// <summary>Polls until address:22 answers with an SSH banner, failing early when the sshd is gone.</summary>
    private async Task WaitForSshAsync(string address, int pid, long start, string log, CancellationToken ct)
    {
        var deadline = _time.GetUtcNow() + _options.SshdStartTimeout;
        while (!AcceptsSsh(address, LabLayout.SshPort, TimeSpan.FromSeconds(2)))
        {
            if (!LabProcesses.IsSameProcess(pid, start))
            {
                throw new LabException($"The sshd on {address}:22 (pid {pid}) exited. Its log {log}:\n{Tail(log)}");
            }

            if (_time.GetUtcNow() > deadline)
            {
                throw new LabException($"The sshd on {address}:22 (pid {pid}) does not accept connections after {_options.SshdStartTimeout.TotalSeconds:0}s. Its log {log}:\n{Tail(log)}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), _time, ct).ConfigureAwait(false);
        }
    }

    private static bool AcceptsSsh(string address, int port, TimeSpan timeout)
    {
        try
        {
            using var client = new TcpClient();
            if (!client.ConnectAsync(IPAddress.Parse(address), port).Wait(timeout))
            {
                return false;
            }

            using var stream = client.GetStream();
            stream.ReadTimeout = (int)timeout.TotalMilliseconds;
            var buffer = new byte[4];
            var read = 0;
            while (read < 4)
            {
                var n = stream.Read(buffer, read, 4 - read);
                if (n == 0)
                {
                    return false;
                }

                read += n;
            }

            return Encoding.ASCII.GetString(buffer) == "SSH-";
        }
        catch (Exception e) when (e is SocketException or IOException or AggregateException)
        {
            return false;
        }
    }

    private static string Tail(string file)
    {
        try
        {
            return string.Join('\n', File.ReadAllLines(file).TakeLast(15));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    /// <summary>True when <paramref name="device"/> is a loop device whose backing file is <paramref name="image"/>.</summary>
    private static bool LoopCarries(string device, string image)
    {
        var name = Path.GetFileName(device);
        var backing = $"/sys/block/{name}/loop/backing_file";
        try
        {
            return File.Exists(backing) && File.ReadAllText(backing).Trim() == image;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static IEnumerable<Dictionary<string, string>> ReadRecords(string dir)
    {
        if (!System.IO.Directory.Exists(dir))
        {
            yield break;
        }

        foreach (var file in System.IO.Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
        {
            if (Path.GetFileName(file).StartsWith('.'))
            {
                continue;
            }

            var record = new Dictionary<string, string>(StringComparer.Ordinal);
            string[] lines;
            try
            {
                lines = File.ReadAllLines(file);
            }
            catch (IOException)
            {
                continue;
            }

            foreach (var line in lines)
            {
                var eq = line.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0)
                {
                    record[line[..eq]] = line[(eq + 1)..];
                }
            }

            yield return record;
        }
    }

    private async Task EndRecordedAsync(Dictionary<string, string> record, string pidKey, string startKey, bool killAtOnce, bool group, CancellationToken ct)
    {
        if (!int.TryParse(record.GetValueOrDefault(pidKey), CultureInfo.InvariantCulture, out var pid)
            || !long.TryParse(record.GetValueOrDefault(startKey), CultureInfo.InvariantCulture, out var start)
            || !LabProcesses.IsSameProcess(pid, start))
        {
            return;
        }

        if (group)
        {
            // A daemon(8) job runs in its own session: its process group id is its pid.
            LabProcesses.Signal(-pid, killAtOnce ? LabProcesses.SigKill : LabProcesses.SigTerm);
        }

        await LabProcesses.EndAsync(pid, start, killAtOnce, TimeSpan.FromSeconds(3), _time, ct).ConfigureAwait(false);
    }

    private static string ShellVars(params (string Key, string Value)[] vars)
    {
        var sb = new StringBuilder("# jailwf lab host configuration, read by the shims. Written by the lab on every up.\n");
        foreach (var (k, v) in vars)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{k}='{v}'\n");
        }

        return sb.ToString();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Bringing the lab in {Directory} up")]
    private static partial void LogUp(ILogger logger, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "The lab in {Directory} is up")]
    private static partial void LogReady(ILogger logger, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Tearing the lab in {Directory} down")]
    private static partial void LogDown(ILogger logger, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "The lab in {Directory} is down")]
    private static partial void LogDownDone(ILogger logger, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "No lab state in {Directory}: nothing to tear down")]
    private static partial void LogNothingToDo(ILogger logger, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Installing missing packages: {Packages}")]
    private static partial void LogInstalling(ILogger logger, string packages);

    [LoggerMessage(Level = LogLevel.Information, Message = "Building the partition images of {Server}")]
    private static partial void LogBuildingImages(ILogger logger, string server);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Server} {MountPoint} is on {Device}")]
    private static partial void LogLoop(ILogger logger, string server, string mountPoint, string device);

    [LoggerMessage(Level = LogLevel.Information, Message = "Started the sshd of {Host} on {Address}:22 (pid {Pid})")]
    private static partial void LogSshd(ILogger logger, string host, string address, int pid);
}
