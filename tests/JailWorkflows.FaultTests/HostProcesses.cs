using System.Globalization;

namespace JailWorkflows.FaultTests;

/// <summary>
/// Processes of the lab (which runs on this machine) read from /proc, to kill exactly the one a fault needs: a source
/// sshd's per-connection process, a host job's process group, one process of a job. Only processes the test's own
/// lab and jailwf runs started are ever killed, each by pid (or by the job's process group).
/// </summary>
internal static class HostProcesses
{
    /// <summary>Every live process: pid, parent pid, process group, name (comm) and arguments.</summary>
    public static List<(int Pid, int Parent, int Group, string Name, string[] Args)> All()
    {
        var result = new List<(int, int, int, string, string[])>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                // stat: pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses, so split after the last ')'.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var close = stat.LastIndexOf(')');
                var name = stat[(stat.IndexOf('(', StringComparison.Ordinal) + 1)..close];
                var fields = stat[(close + 2)..].Split(' ');
                if (fields[0] == "Z")
                {
                    continue;
                }

                var args = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0', StringSplitOptions.RemoveEmptyEntries);
                result.Add((pid, int.Parse(fields[1], CultureInfo.InvariantCulture), int.Parse(fields[2], CultureInfo.InvariantCulture), name, args));
            }
            catch (IOException)
            {
                // The process ended while it was read.
            }
        }

        return result;
    }

    /// <summary>
    /// The source sshd's per-connection processes (privileged monitor and session, children of the listener
    /// <paramref name="listenerPid"/>) serving the session that runs <c>dump ... <paramref name="mountPoint"/></c>.
    /// </summary>
    public static List<int> SshdSessionServingDump(int listenerPid, string mountPoint)
    {
        var all = All();
        var byPid = all.ToDictionary(p => p.Pid);
        foreach (var dump in all.Where(p => p.Args.Length > 1 && p.Args.Any(a => a.EndsWith("/bin/dump", StringComparison.Ordinal)) && p.Args[^1] == mountPoint))
        {
            var chain = new List<int>();
            for (var pid = dump.Parent; byPid.TryGetValue(pid, out var p) && pid > 1; pid = p.Parent)
            {
                if (pid == listenerPid)
                {
                    return chain.Where(c => byPid[c].Name == "sshd").ToList();
                }

                chain.Add(pid);
            }
        }

        return [];
    }

    /// <summary>The live processes of process group <paramref name="group"/>.</summary>
    public static List<(int Pid, string Name)> OfGroup(int group) => All().Where(p => p.Group == group).Select(p => (p.Pid, p.Name)).ToList();

    /// <summary>A host job's process group, from its <c>pgid</c> file in the jobs directory.</summary>
    public static int JobGroup(string jobsDir, string jobId) =>
        int.Parse(File.ReadAllText(Path.Combine(jobsDir, jobId, "pgid")).Trim(), CultureInfo.InvariantCulture);

    /// <summary>SIGKILL to one process, or to a whole process group when <paramref name="group"/> is set (kill(1): <c>-KILL -- -pgid</c>).</summary>
    public static void Kill(int pid, bool group = false)
    {
        Assert.True(pid > 1, $"refusing to kill {pid}");
        using var kill = System.Diagnostics.Process.Start("kill", ["-KILL", "--", (group ? "-" : string.Empty) + pid.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }
}
