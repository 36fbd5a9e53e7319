using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace JailWorkflows.Plans;

/// <summary>Writes a <see cref="Plan"/> as YAML in the shape <see cref="PlanLoader"/> reads.</summary>
public static class PlanWriter
{
    /// <summary>The plan as YAML. <c>PlanLoader.Parse(ToYaml(plan))</c> gives an equal plan (partitions ordered parents first).</summary>
    /// <param name="plan">The plan.</param>
    /// <returns>The YAML text.</returns>
    public static string ToYaml(Plan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var h = plan.JailHost;
        var jailHost = new YamlMappingNode
        {
            { "name", Str(h.Name) },
            { "ssh", h.Ssh is null ? Str(PlanLoader.Local) : Endpoint(h.Ssh) },
            { "jailsDir", Str(h.JailsDir) },
            { "srcDir", Str(h.SrcDir) },
            { "objDir", Str(h.ObjDir) },
            { "jobsDir", Str(h.JobsDir) },
            { "stateDir", Str(h.StateDir) },
            { "jailConfDir", Str(h.JailConfDir) },
            { "transferKeyFile", Str(h.TransferKeyFile) },
            { "buildJobs", Num(h.BuildJobs) },
        };
        var servers = new YamlSequenceNode();
        foreach (var s in plan.Servers)
        {
            var server = new YamlMappingNode { { "name", Str(s.Name) } };
            if (s.Release is not null)
            {
                server.Add("release", Str(s.Release));
            }

            server.Add("ssh", Endpoint(s.Ssh));
            var partitions = new YamlSequenceNode();
            foreach (var p in s.Partitions)
            {
                var partition = new YamlMappingNode { { "mountPoint", Str(p.MountPoint) } };
                if (p.Device is not null)
                {
                    partition.Add("device", Str(p.Device));
                }

                partitions.Add(partition);
            }

            server.Add("partitions", partitions);
            server.Add("jail", new YamlMappingNode
            {
                { "name", Str(s.Jail.Name) },
                { "hostname", Str(s.Jail.Hostname) },
                { "ip", Str(s.Jail.Ip) },
            });
            if (s.Cutover)
            {
                server.Add("cutover", new YamlScalarNode("true"));
            }

            servers.Add(server);
        }

        var stream = new YamlStream(new YamlDocument(new YamlMappingNode { { "jailHost", jailHost }, { "servers", servers } }));
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        stream.Save(writer, assignAnchors: false);
        var text = writer.ToString();

        // YamlStream ends the document with "...": not needed for a single document.
        return text.EndsWith("...\n", StringComparison.Ordinal) || text.EndsWith("..." + Environment.NewLine, StringComparison.Ordinal)
            ? text[..text.LastIndexOf("...", StringComparison.Ordinal)]
            : text;
    }

    private static YamlMappingNode Endpoint(SshEndpoint e) => new()
    {
        { "address", Str(e.Address) },
        { "port", Num(e.Port) },
        { "user", Str(e.User) },
        { "keyFile", Str(e.KeyFile) },
        { "hostKey", Str(e.HostKey) },
        { "legacySsh", new YamlScalarNode(e.LegacySsh ? "true" : "false") },
    };

    // Double-quoted so that values such as "yes", "1.0" or "~" stay text for any YAML reader.
    private static YamlScalarNode Str(string value) => new(value) { Style = ScalarStyle.DoubleQuoted };

    private static YamlScalarNode Num(int value) => new(value.ToString(CultureInfo.InvariantCulture));
}
