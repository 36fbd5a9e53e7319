namespace JailWorkflows.Tests.Support;

/// <summary>Plans with a local jail host (no lab needed) and one server, ServerA, at an address nothing answers on.</summary>
internal static class LocalPlans
{
    /// <summary>The plan's YAML; <paramref name="dir"/> holds jails, jobs, state and jail.conf.d when given.</summary>
    public static string Yaml(string? dir, string jailName = "servera", string address = "127.0.99.1", int port = 22, string? jailsDir = null, string keyFile = "/nonexistent/id_rsa")
    {
        var directories = dir is null
            ? $"  jailsDir: {jailsDir ?? "/var/tmp/jailwf-badinput/jails"}"
            : $"  jailsDir: {jailsDir ?? dir + "/jails"}\n  jobsDir: {dir}/jobs\n  stateDir: {dir}/state\n  jailConfDir: {dir}/jail.conf.d";
        return $"""
            jailHost:
              ssh: local
            {directories}
            servers:
              - name: ServerA
                ssh:
                  address: {address}
                  port: {port}
                  keyFile: {keyFile}
                  hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILypLiRlzQiN5LB+XVAXTc6nVDdHflwqHIOmGMufVxt6
                partitions:
                  - mountPoint: /
                jail:
                  name: {jailName}
                  hostname: servera
                  ip: 127.0.20.99
            """;
    }

    /// <summary>
    /// A plan with a local jail host that builds worlds: jails, jobs, state and jail.conf.d under <paramref name="dir"/>, the
    /// given src and obj directories, one make job; one server, ServerA, whose address (and jail IP) is <paramref name="ip"/>
    /// (nothing answers there: a jail host definition never contacts it).
    /// </summary>
    public static string BuildHostYaml(string dir, string src, string obj, string ip) => $"""
        jailHost:
          ssh: local
          jailsDir: {dir}/jails
          jobsDir: {dir}/jobs
          stateDir: {dir}/state
          jailConfDir: {dir}/jail.conf.d
          srcDir: {src}
          objDir: {obj}
          buildJobs: 1
        servers:
          - name: ServerA
            ssh:
              address: {ip}
              keyFile: /nonexistent/id_rsa
              hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILypLiRlzQiN5LB+XVAXTc6nVDdHflwqHIOmGMufVxt6
            partitions:
              - mountPoint: /
            jail:
              name: servera
              hostname: servera
              ip: {ip}
        """;
}
