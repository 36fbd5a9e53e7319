using System.Globalization;
using System.Text.RegularExpressions;
using JailWorkflows.FreeBsd;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace JailWorkflows.Plans;

/// <summary>
/// Loads a plan file (YAML, DESIGN.md D8) into <see cref="Plan"/>, validating every field. All problems are
/// collected and thrown together as a <see cref="PlanValidationException"/> whose errors name the field path
/// (<c>servers[1].jail.ip: '10.0.0.300' is not an IPv4 address</c>). Keys are camelCase property names;
/// unknown keys are errors (typos). See <c>workflows/plans/example.yaml</c> for the shape.
/// </summary>
public static partial class PlanLoader
{
    private static readonly string[] RootKeys = ["jailHost", "servers"];
    private static readonly string[] JailHostKeys = ["name", "ssh", "jailsDir", "srcDir", "objDir", "jobsDir", "stateDir", "jailConfDir", "transferKeyFile", "buildJobs"];
    private static readonly string[] SshKeys = ["address", "port", "user", "keyFile", "hostKey", "legacySsh"];
    private static readonly string[] ServerKeys = ["name", "release", "ssh", "partitions", "jail", "cutover"];
    private static readonly string[] PartitionKeys = ["mountPoint", "device"];
    private static readonly string[] JailKeys = ["name", "hostname", "ip"];

    /// <summary>The word that stands for "this machine" as <c>jailHost</c> or <c>jailHost.ssh</c>.</summary>
    public const string Local = "local";

    /// <summary>
    /// The default transfer key when the plan gives none: <c>&lt;stateDir&gt;/transfer_key</c> on the jail host.
    /// </summary>
    public const string DefaultTransferKeyName = "transfer_key";

    /// <summary>Reads and validates a plan file.</summary>
    /// <param name="path">The YAML file.</param>
    /// <returns>The plan.</returns>
    /// <exception cref="PlanValidationException">The plan is not valid; lists every problem.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static Plan Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Reads and validates a plan file asynchronously.</summary>
    /// <param name="path">The YAML file.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The plan.</returns>
    /// <exception cref="PlanValidationException">The plan is not valid; lists every problem.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static async Task<Plan> LoadAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        var text = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
        return Parse(text, path);
    }

    /// <summary>Validates plan text.</summary>
    /// <param name="yaml">The YAML text.</param>
    /// <param name="source">The file name for messages, or null.</param>
    /// <returns>The plan.</returns>
    /// <exception cref="PlanValidationException">The plan is not valid; lists every problem.</exception>
    public static Plan Parse(string yaml, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        var reader = new Reader();
        YamlNode? root = null;
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(yaml));
            if (stream.Documents.Count > 1)
            {
                reader.Error("(plan)", "more than one YAML document");
            }

            root = stream.Documents.Count > 0 ? stream.Documents[0].RootNode : null;
        }
        catch (YamlException e)
        {
            reader.Error("(yaml)", $"line {e.Start.Line}, column {e.Start.Column}: {e.InnerException?.Message ?? e.Message}");
        }

        var plan = reader.Errors.Count == 0 ? reader.ReadPlan(root) : null;
        if (reader.Errors.Count > 0 || plan is null)
        {
            throw new PlanValidationException(reader.Errors, source);
        }

        return plan;
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex NamePattern();

    private sealed class Reader
    {
        public List<PlanError> Errors { get; } = [];

        public void Error(string field, string message) => Errors.Add(new PlanError(field, message));

        public Plan? ReadPlan(YamlNode? root)
        {
            if (root is null || IsNull(root))
            {
                Error("jailHost", "missing");
                Error("servers", "missing");
                return null;
            }

            if (root is not YamlMappingNode map)
            {
                Error("(plan)", $"expected a mapping with jailHost and servers, found {Describe(root)}");
                return null;
            }

            CheckKeys(map, string.Empty, RootKeys);
            var jailHost = ReadJailHost(Get(map, "jailHost"));
            var servers = ReadServers(Get(map, "servers"));
            if (jailHost is null || servers is null)
            {
                return null;
            }

            CheckOverlaps(jailHost, servers);
            return new Plan { JailHost = jailHost, Servers = servers };
        }

        /// <summary>
        /// A jail root is wiped and restored into: no directory of the jail host (jobs, state, src, obj, jail.conf.d)
        /// may be a jail root, lie inside one, or contain one, and jail roots may not nest.
        /// </summary>
        private void CheckOverlaps(JailHostSpec host, List<SourceServerSpec> servers)
        {
            (string Field, string Dir)[] hostDirs =
            [
                ("jailHost.jobsDir", host.JobsDir), ("jailHost.stateDir", host.StateDir), ("jailHost.srcDir", host.SrcDir),
                ("jailHost.objDir", host.ObjDir), ("jailHost.jailConfDir", host.JailConfDir),
            ];
            for (var i = 0; i < servers.Count; i++)
            {
                var root = host.JailsDir.TrimEnd('/') + "/" + servers[i].Jail.Name;
                foreach (var (field, dir) in hostDirs)
                {
                    if (Overlaps(root, dir))
                    {
                        Error(field, $"'{dir}' overlaps the jail root {root} of servers[{i}] (a jail root is wiped and restored into)");
                    }
                }
            }

            foreach (var (field, dir) in hostDirs)
            {
                if (IsInside(dir, host.JailsDir) && servers.Count > 0)
                {
                    // Inside the jails directory but no jail's root: still refused, a later jail could get that name.
                    Error(field, $"'{dir}' is inside the jails directory {host.JailsDir}; keep the jail host's own directories outside it");
                }
            }

            static bool IsInside(string path, string dir) => (path.TrimEnd('/') + "/").StartsWith(dir.TrimEnd('/') + "/", StringComparison.Ordinal);

            static bool Overlaps(string a, string b) => IsInside(a, b) || IsInside(b, a);
        }

        private JailHostSpec? ReadJailHost(YamlNode? node)
        {
            const string path = "jailHost";
            if (node is null || IsNull(node))
            {
                Error(path, "missing (write 'jailHost: local' for this machine)");
                return null;
            }

            var defaults = new JailHostSpec { TransferKeyFile = "/" };
            if (node is YamlScalarNode scalar)
            {
                if (scalar.Value != Local)
                {
                    Error(path, $"'{scalar.Value}' is not '{Local}' or a mapping");
                    return null;
                }

                return defaults with { TransferKeyFile = defaults.StateDir + "/" + DefaultTransferKeyName };
            }

            if (node is not YamlMappingNode map)
            {
                Error(path, $"expected a mapping or '{Local}', found {Describe(node)}");
                return null;
            }

            CheckKeys(map, path, JailHostKeys);
            var name = Text(map, "name", path, required: false, ValidName) ?? defaults.Name;
            SshEndpoint? ssh = null;
            var sshNode = Get(map, "ssh");
            if (sshNode is YamlScalarNode { Value: var v } && v != Local && !IsNull(sshNode))
            {
                Error(path + ".ssh", $"'{v}' is not '{Local}' or a mapping");
            }
            else if (sshNode is not null && !IsNull(sshNode) && sshNode is not YamlScalarNode)
            {
                ssh = ReadEndpoint(sshNode, path + ".ssh");
            }

            var jailsDir = Text(map, "jailsDir", path, required: false, ValidDirectory) ?? defaults.JailsDir;
            var srcDir = Text(map, "srcDir", path, required: false, ValidDirectory) ?? defaults.SrcDir;
            var objDir = Text(map, "objDir", path, required: false, ValidDirectory) ?? defaults.ObjDir;
            var jobsDir = Text(map, "jobsDir", path, required: false, ValidDirectory) ?? defaults.JobsDir;
            var stateDir = Text(map, "stateDir", path, required: false, ValidDirectory) ?? defaults.StateDir;
            var jailConfDir = Text(map, "jailConfDir", path, required: false, ValidDirectory) ?? defaults.JailConfDir;
            var transferKey = Text(map, "transferKeyFile", path, required: false, ValidFile) ?? stateDir + "/" + DefaultTransferKeyName;
            var buildJobs = Integer(map, "buildJobs", path, 0, 0, 1024);
            return new JailHostSpec
            {
                Name = name,
                Ssh = ssh,
                JailsDir = jailsDir,
                SrcDir = srcDir,
                ObjDir = objDir,
                JobsDir = jobsDir,
                StateDir = stateDir,
                JailConfDir = jailConfDir,
                TransferKeyFile = transferKey,
                BuildJobs = buildJobs,
            };
        }

        private List<SourceServerSpec>? ReadServers(YamlNode? node)
        {
            const string path = "servers";
            if (node is null || IsNull(node))
            {
                Error(path, "missing");
                return null;
            }

            if (node is not YamlSequenceNode seq)
            {
                Error(path, $"expected a list of servers, found {Describe(node)}");
                return null;
            }

            if (seq.Children.Count == 0)
            {
                Error(path, "empty (at least one server)");
                return null;
            }

            var servers = new List<SourceServerSpec?>();
            for (var i = 0; i < seq.Children.Count; i++)
            {
                servers.Add(ReadServer(seq.Children[i], string.Create(CultureInfo.InvariantCulture, $"{path}[{i}]")));
            }

            Unique(servers, s => s?.Name, "name", StringComparer.OrdinalIgnoreCase);
            Unique(servers, s => s?.Jail.Name, "jail.name", StringComparer.OrdinalIgnoreCase);
            Unique(servers, s => s?.Jail.Ip, "jail.ip", StringComparer.Ordinal);
            return servers.All(s => s is not null) ? servers.Select(s => s!).ToList() : null;
        }

        private void Unique(List<SourceServerSpec?> servers, Func<SourceServerSpec?, string?> key, string field, StringComparer comparer)
        {
            var seen = new Dictionary<string, int>(comparer);
            for (var i = 0; i < servers.Count; i++)
            {
                var k = key(servers[i]);
                if (k is null)
                {
                    continue;
                }

                if (seen.TryGetValue(k, out var first))
                {
                    Error(string.Create(CultureInfo.InvariantCulture, $"servers[{i}].{field}"), string.Create(CultureInfo.InvariantCulture, $"'{k}' is a duplicate (also servers[{first}].{field})"));
                }
                else
                {
                    seen[k] = i;
                }
            }
        }

        private SourceServerSpec? ReadServer(YamlNode node, string path)
        {
            if (node is not YamlMappingNode map)
            {
                Error(path, $"expected a mapping, found {Describe(node)}");
                return null;
            }

            CheckKeys(map, path, ServerKeys);
            var name = Text(map, "name", path, required: true, ValidName);
            var release = Text(map, "release", path, required: false, v =>
                FreeBsdRelease.TryParse(v, out _) ? null : $"'{v}' is not a FreeBSD release as uname -r prints it (e.g. 4.10-RELEASE, 4.7-RELEASE-p28)");
            var sshNode = Get(map, "ssh");
            SshEndpoint? ssh = null;
            if (sshNode is null || IsNull(sshNode))
            {
                Error(path + ".ssh", "missing");
            }
            else
            {
                ssh = ReadEndpoint(sshNode, path + ".ssh");
            }

            var partitions = ReadPartitions(Get(map, "partitions"), path + ".partitions");
            var jail = ReadJail(Get(map, "jail"), path + ".jail");
            var cutover = Boolean(map, "cutover", path, false);
            if (name is null || ssh is null || partitions is null || jail is null)
            {
                return null;
            }

            return new SourceServerSpec { Name = name, Release = release, Ssh = ssh, Partitions = partitions, Jail = jail, Cutover = cutover };
        }

        private SshEndpoint? ReadEndpoint(YamlNode node, string path)
        {
            if (node is not YamlMappingNode map)
            {
                Error(path, $"expected a mapping, found {Describe(node)}");
                return null;
            }

            CheckKeys(map, path, SshKeys);
            var address = Text(map, "address", path, required: true, ValidAddress);
            var port = Integer(map, "port", path, 22, 1, 65535);
            var user = Text(map, "user", path, required: false, v =>
                OpenSsh.IsUserName(v) ? null : $"'{v}' is not a user name (letters, digits, '_', '.', '-')") ?? "root";
            var keyFile = Text(map, "keyFile", path, required: true, ValidFile);
            string? hostKey = null;
            var hostKeyText = Text(map, "hostKey", path, required: true, v =>
                KnownHosts.TryNormalizeHostKey(v, out hostKey, out var error) ? null : error);
            var legacy = Boolean(map, "legacySsh", path, false);
            if (address is null || keyFile is null || hostKeyText is null || hostKey is null)
            {
                return null;
            }

            return new SshEndpoint { Address = address, Port = port, User = user, KeyFile = keyFile, HostKey = hostKey, LegacySsh = legacy };
        }

        private List<PartitionSpec>? ReadPartitions(YamlNode? node, string path)
        {
            if (node is null || IsNull(node))
            {
                Error(path, "missing");
                return null;
            }

            if (node is not YamlSequenceNode seq)
            {
                Error(path, $"expected a list of partitions, found {Describe(node)}");
                return null;
            }

            if (seq.Children.Count == 0)
            {
                Error(path, "empty (at least the '/' partition)");
                return null;
            }

            var result = new List<PartitionSpec>();
            var seen = new Dictionary<string, int>(StringComparer.Ordinal);
            var ok = true;
            for (var i = 0; i < seq.Children.Count; i++)
            {
                var p = string.Create(CultureInfo.InvariantCulture, $"{path}[{i}]");
                if (seq.Children[i] is not YamlMappingNode map)
                {
                    Error(p, $"expected a mapping with mountPoint, found {Describe(seq.Children[i])}");
                    ok = false;
                    continue;
                }

                CheckKeys(map, p, PartitionKeys);
                var mountPoint = Text(map, "mountPoint", p, required: true, ValidMountPoint);
                var device = Text(map, "device", p, required: false, ValidFile);
                if (mountPoint is null)
                {
                    ok = false;
                    continue;
                }

                mountPoint = mountPoint.Length > 1 ? mountPoint.TrimEnd('/') : mountPoint;
                if (seen.TryGetValue(mountPoint, out var first))
                {
                    Error(p + ".mountPoint", string.Create(CultureInfo.InvariantCulture, $"'{mountPoint}' is a duplicate (also {path}[{first}])"));
                    ok = false;
                    continue;
                }

                seen[mountPoint] = i;
                result.Add(new PartitionSpec { MountPoint = mountPoint, Device = device });
            }

            if (ok && !seen.ContainsKey("/"))
            {
                Error(path, "no '/' partition (the jail root is restored from it)");
                ok = false;
            }

            // Parents before children, so "/" is restored before "/usr" and "/usr" before "/usr/local".
            return ok ? result.OrderBy(p => p.MountPoint == "/" ? 0 : p.MountPoint.Count(c => c == '/')).ThenBy(p => p.MountPoint, StringComparer.Ordinal).ToList() : null;
        }

        private JailSpec? ReadJail(YamlNode? node, string path)
        {
            if (node is null || IsNull(node))
            {
                Error(path, "missing");
                return null;
            }

            if (node is not YamlMappingNode map)
            {
                Error(path, $"expected a mapping with name, hostname and ip, found {Describe(node)}");
                return null;
            }

            CheckKeys(map, path, JailKeys);
            var name = Text(map, "name", path, required: true, v =>
            {
                try
                {
                    JailRoot.Create("/data/jails", v);
                    return null;
                }
                catch (ArgumentException)
                {
                    return $"'{v}' is not a valid jail name (letters, digits, '_' and '-', at most 64, starting with a letter or digit)";
                }
            });
            var hostname = Text(map, "hostname", path, required: true, v =>
                NetworkNames.IsHostName(v) ? null : $"'{v}' is not a host name (letters, digits, '-' and '.')");
            var ip = Text(map, "ip", path, required: true, v =>
                NetworkNames.IsIPv4(v) ? null : $"'{v}' is not an IPv4 address");
            return name is null || hostname is null || ip is null ? null : new JailSpec { Name = name, Hostname = hostname, Ip = ip };
        }

        private string? Text(YamlMappingNode map, string key, string path, bool required, Func<string, string?> validate)
        {
            var field = Join(path, key);
            var node = Get(map, key);
            if (node is null || IsNull(node))
            {
                if (required)
                {
                    Error(field, "missing");
                }

                return null;
            }

            if (node is not YamlScalarNode { Value: { } value })
            {
                Error(field, $"expected a text value, found {Describe(node)}");
                return null;
            }

            var problem = validate(value);
            if (problem is not null)
            {
                Error(field, problem);
                return null;
            }

            return value;
        }

        private int Integer(YamlMappingNode map, string key, string path, int fallback, int min, int max)
        {
            var field = Join(path, key);
            var node = Get(map, key);
            if (node is null || IsNull(node))
            {
                return fallback;
            }

            if (node is not YamlScalarNode { Value: { } value })
            {
                Error(field, $"expected an integer, found {Describe(node)}");
                return fallback;
            }

            if (!int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
            {
                Error(field, $"'{value}' is not an integer");
                return fallback;
            }

            if (number < min || number > max)
            {
                Error(field, string.Create(CultureInfo.InvariantCulture, $"{number} is not between {min} and {max}"));
                return fallback;
            }

            return number;
        }

        private bool Boolean(YamlMappingNode map, string key, string path, bool fallback)
        {
            var field = Join(path, key);
            var node = Get(map, key);
            if (node is null || IsNull(node))
            {
                return fallback;
            }

            if (node is YamlScalarNode { Value: { } value })
            {
                if (string.Equals(value, "true", StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }

                if (string.Equals(value, "false", StringComparison.OrdinalIgnoreCase))
                {
                    return false;
                }

                Error(field, $"'{value}' is not a boolean (true or false)");
                return fallback;
            }

            Error(field, $"expected true or false, found {Describe(node)}");
            return fallback;
        }

        private void CheckKeys(YamlMappingNode map, string path, string[] known)
        {
            foreach (var key in map.Children.Keys)
            {
                if (key is not YamlScalarNode { Value: { } name })
                {
                    Error(path.Length == 0 ? "(plan)" : path, $"a key must be a plain name, found {Describe(key)}");
                    continue;
                }

                if (!known.Contains(name, StringComparer.Ordinal))
                {
                    var hint = known.FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
                    Error(Join(path, name), hint is not null
                        ? $"unknown field (did you mean '{hint}'?)"
                        : $"unknown field (known: {string.Join(", ", known)})");
                }
            }
        }

        private static YamlNode? Get(YamlMappingNode map, string key) =>
            map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

        private static bool IsNull(YamlNode node) =>
            node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" or "Null" or "NULL" };

        private static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;

        private static string Describe(YamlNode node) => node switch
        {
            YamlMappingNode => "a mapping",
            YamlSequenceNode => "a list",
            YamlScalarNode s => $"'{s.Value}'",
            _ => node.NodeType.ToString(),
        };

        private static string? ValidName(string v) =>
            NamePattern().IsMatch(v) ? null : $"'{v}' is not a name (letters, digits, '_', '.', '-', at most 64, starting with a letter or digit)";

        private static string? ValidAddress(string v)
        {
            if (NetworkNames.IsIPv4(v))
            {
                return null;
            }

            if (NetworkNames.LooksNumeric(v))
            {
                return $"'{v}' is not an IPv4 address";
            }

            return NetworkNames.IsHostName(v) ? null : $"'{v}' is neither an IPv4 address nor a host name (letters, digits, '-' and '.')";
        }

        private static string? ValidDirectory(string v)
        {
            if (!v.StartsWith('/'))
            {
                return $"'{v}' is not an absolute path";
            }

            try
            {
                JailRoot.ValidateDirectory(v, "value");
                return null;
            }
            catch (ArgumentException)
            {
                return v.TrimEnd('/').Length == 0
                    ? $"'{v}' cannot be '/'"
                    : $"'{v}' is not a normalised path of safe characters (no '.', '..', '//', spaces or shell metacharacters)";
            }
        }

        private static string? ValidFile(string v) => ValidDirectory(v);

        private static string? ValidMountPoint(string v) => v == "/" ? null : ValidDirectory(v);
    }
}
