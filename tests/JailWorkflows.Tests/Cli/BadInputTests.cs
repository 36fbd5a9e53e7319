using JailWorkflows.Tests.Support;

namespace JailWorkflows.Tests.Cli;

/// <summary>Bad input through the real jailwf process: a clear error naming the field or host, a non-zero exit, nothing executed.</summary>
public sealed class BadInputTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("jailwf-badinput-").FullName;

    private string Db => Path.Combine(_dir, "state", "jailwf.db");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_plan_with_a_missing_and_a_wrong_typed_field_names_both_and_creates_nothing()
    {
        var plan = Write("plan.yaml", """
            jailHost:
              ssh: local
              jailsDir: /data/jails
            servers:
              - name: ServerA
                ssh:
                  address: 127.0.99.1
                  port: twenty-two
                  keyFile: /root/.ssh/id_rsa
                  hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILypLiRlzQiN5LB+XVAXTc6nVDdHflwqHIOmGMufVxt6
                partitions:
                  - mountPoint: /
                jail:
                  name: servera
                  hostname: servera
            """);
        var (exit, _, stderr) = await Jailwf.RunAsync(Timeout, "run", "consolidate-server", "--plan", plan, "--db", Db);
        Assert.Equal(2, exit);
        Assert.Contains("servers[0].ssh.port", stderr, StringComparison.Ordinal);
        Assert.Contains("servers[0].jail.ip", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Db), "nothing may be created for a bad plan");
    }

    [Fact]
    public async Task Shell_metacharacters_in_a_plan_value_are_refused_naming_the_field()
    {
        var plan = Write("plan.yaml", ValidPlan(address: "127.0.99.1", jailsDir: "/data/jails;rm -rf /"));
        var (exit, _, stderr) = await Jailwf.RunAsync(Timeout, "run", "consolidate-server", "--plan", plan, "--db", Db);
        Assert.Equal(2, exit);
        Assert.Contains("jailHost.jailsDir", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Db));
    }

    [Fact]
    public async Task An_unreachable_host_is_named_and_nothing_starts()
    {
        // Nothing listens on 127.0.99.1:2 (loopback, refused at once).
        var plan = Write("plan.yaml", ValidPlan(address: "127.0.99.1", port: 2));
        var (exit, _, stderr) = await Jailwf.RunAsync(Timeout, "run", "consolidate-server", "--plan", plan, "--db", Db);
        Assert.Equal(3, exit);
        Assert.Contains("127.0.99.1:2", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Db), "no engine may start when a host is unreachable");
    }

    [Fact]
    public async Task An_unknown_definition_and_an_unknown_server_are_bad_input()
    {
        var plan = Write("plan.yaml", ValidPlan(address: "127.0.99.1"));
        var server = await Jailwf.RunAsync(Timeout, "run", "consolidate-server", "--plan", plan, "--server", "ServerZ", "--db", Db);
        Assert.Equal(2, server.Exit);
        Assert.Contains("ServerZ", server.StdErr, StringComparison.Ordinal);
        var status = await Jailwf.RunAsync(Timeout, "status", "0123456789abcdef", "--db", Db);
        Assert.Equal(2, status.Exit);
    }

    [Fact]
    public async Task A_broken_definition_file_is_named_with_its_field_before_any_host_is_contacted()
    {
        var workflows = Directory.CreateDirectory(Path.Combine(_dir, "workflows")).FullName;
        File.WriteAllText(Path.Combine(workflows, "broken.json"), """{ "id": "broken", "version": 1, "steps": [ { "id": "x", "activity": "Reformat" } ] }""");
        var plan = Write("plan.yaml", ValidPlan(address: "127.0.99.1", port: 2));
        var (exit, _, stderr) = await Jailwf.RunAsync(Timeout, "run", "broken", "--plan", plan, "--db", Db, "--workflows", workflows);
        Assert.Equal(2, exit);
        Assert.Contains("steps[0].activity", stderr, StringComparison.Ordinal);
        Assert.Contains("Reformat", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.99.1", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Db));
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string ValidPlan(string address, int port = 22, string jailsDir = "/var/tmp/jailwf-badinput/jails") =>
        LocalPlans.Yaml(null, address: address, port: port, jailsDir: jailsDir, keyFile: "/root/.ssh/id_rsa");
}
