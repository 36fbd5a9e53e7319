using JailWorkflows.FreeBsd;
using JailWorkflows.Lab;
using JailWorkflows.Shell;
using JailWorkflows.Tests.Lab;

namespace JailWorkflows.Tests.Discovery;

/// <summary>The lab source servers' ifconfig, df and cat shims over real ssh, read by the product's parsers.</summary>
[Collection(LabCollection.Name)]
public sealed class DiscoveryShimTests(LabFixture fixture)
{
    [LabFact]
    public async Task Each_server_shows_its_own_lan_address_file_systems_and_files_in_FreeBSD_form()
    {
        var c = fixture.Info.Server("ServerC");
        var layout = LabLayout.Servers.Single(s => s.Name == "ServerC");

        var ifconfig = await LabSsh.RunAsync(c.Ssh, Ifconfig.Command());
        Assert.True(ifconfig.ExitCode == 0, ifconfig.ToString());
        Assert.Contains($"\tinet {layout.LanIp} netmask 0xffffff00 broadcast ", ifconfig.StdOut, StringComparison.Ordinal);
        Assert.Equal(layout.LanIp, Ifconfig.PrimaryAddress(Ifconfig.Parse(ifconfig.StdOut))?.Address);

        var df = await LabSsh.RunAsync(c.Ssh, Df.Command("/", "/dev/ad0s1f", "/usr/local/www"));
        Assert.True(df.ExitCode == 0, df.ToString());
        var entries = Df.Parse(df.StdOut);
        Assert.Equal(["/", "/usr", "/usr"], entries.Select(e => e.MountedOn));
        Assert.Equal(["/dev/ad0s1a", "/dev/ad0s1f", "/dev/ad0s1f"], entries.Select(e => e.FileSystem));
        Assert.All(entries, e => Assert.Equal(32 * 1024, e.SizeKiB));
        Assert.All(entries, e => Assert.InRange(e.UsedKiB, 1, e.SizeKiB));

        // ServerC's rc.conf and web page come from its own partition images, not from this machine.
        var rcConf = await LabSsh.RunAsync(c.Ssh, ShellCommand.Of("cat", "/etc/rc.conf"));
        Assert.True(rcConf.ExitCode == 0, rcConf.ToString());
        Assert.Contains("samba", RcConf.EnabledServices(rcConf.StdOut).Select(s => s.Name));
        var page = await LabSsh.RunAsync(c.Ssh, ShellCommand.Of("cat", "/usr/local/www/data/index.html"));
        Assert.Contains(c.WebContent, page.StdOut, StringComparison.Ordinal);

        var missing = await LabSsh.RunAsync(c.Ssh, ShellCommand.Of("cat", "/etc/no-such-file"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("cat: /etc/no-such-file: No such file or directory", missing.StdErr, StringComparison.Ordinal);
        var noDf = await LabSsh.RunAsync(c.Ssh, Df.Command("/no/such/dir"));
        Assert.Equal(1, noDf.ExitCode);
        Assert.Contains("df: /no/such/dir: No such file or directory", noDf.StdErr, StringComparison.Ordinal);

        // Standard input still passes through.
        var echo = await LabSsh.RunAsync(c.Ssh, "echo through | cat");
        Assert.Equal("through\n", echo.StdOut);
    }
}
