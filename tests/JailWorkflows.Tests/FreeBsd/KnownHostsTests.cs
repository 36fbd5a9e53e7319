using JailWorkflows.FreeBsd;

namespace JailWorkflows.Tests.FreeBsd;

public class KnownHostsTests
{
    // A syntactically real ed25519 public key blob ("ssh-ed25519" + 32 bytes).
    internal const string Ed25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILypLiRlzQiN5LB+XVAXTc6nVDdHflwqHIOmGMufVxt6";

    internal const string Rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC+3hYbxKtmESmmYKIgdpwoTw/VwirH3b15Vvy47xgvkVWlu8RTnufR19o1Ngm1yJy/P+EYFeD/8t6Gw1D6Y/sysknB54LxmMfrWx/wO1ZSzYxrI7VlKtKbIVOwzKxVTBbul7zRQuHqWjRrzleTbcoPXYYzJhFxGx/aJmfOFfHKuw==";

    [Fact]
    public void Port_22_is_bare_address() =>
        Assert.Equal("127.0.10.1 " + Ed25519, KnownHosts.Line("127.0.10.1", 22, Ed25519));

    [Fact]
    public void Other_ports_use_brackets() =>
        Assert.Equal("[127.0.10.1]:2222 " + Ed25519, KnownHosts.Line("127.0.10.1", 2222, Ed25519 + " root@servera"));

    [Theory]
    [InlineData("ssh-ed25519")]
    [InlineData("ssh-foo AAAAC3NzaC1lZDI1NTE5AAAAILypLiRlzQiN5LB+XVAXTc6nVDdHflwqHIOmGMufVxt6")]
    [InlineData("ssh-ed25519 not-base64!")]
    [InlineData("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAILypLiRlzQiN5LB+XVAXTc6nVDdHflwqHIOmGMufVxt6")]
    public void Bad_keys_are_refused(string key)
    {
        Assert.False(KnownHosts.TryNormalizeHostKey(key, out _, out var error));
        Assert.NotEmpty(error);
        Assert.Throws<ArgumentException>(() => KnownHosts.Line("host", 22, key));
    }

    [Theory]
    [InlineData("host name")]
    [InlineData("a;b")]
    [InlineData("-oProxyCommand=x")]
    [InlineData("10.0.0.300")]
    public void Bad_addresses_are_refused(string address) =>
        Assert.Throws<ArgumentException>(() => KnownHosts.Line(address, 22, Ed25519));
}
