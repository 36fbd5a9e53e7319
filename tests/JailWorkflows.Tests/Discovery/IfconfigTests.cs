using JailWorkflows.FreeBsd;

namespace JailWorkflows.Tests.Discovery;

public sealed class IfconfigTests
{
    // FreeBSD 4.10 (fxp0 with an alias, the 4.x pseudo interfaces, inet6 lines with trailing blanks).
    private const string FreeBsd4 =
        "fxp0: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n" +
        "\tinet 10.11.12.13 netmask 0xffffff00 broadcast 10.11.12.255\n" +
        "\tinet6 fe80::2a0:c9ff:fe0b:c0d%fxp0 prefixlen 64 scopeid 0x1 \n" +
        "\tinet 10.11.12.16 netmask 0xffffffff broadcast 10.11.12.16\n" +
        "\tether 00:a0:c9:0b:0c:0d \n" +
        "\tmedia: Ethernet autoselect (100baseTX <full-duplex>)\n" +
        "\tstatus: active\n" +
        "lp0: flags=8810<POINTOPOINT,SIMPLEX,MULTICAST> mtu 1500\n" +
        "lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384\n" +
        "\tinet6 fe80::1%lo0 prefixlen 64 scopeid 0x4 \n" +
        "\tinet6 ::1 prefixlen 128 \n" +
        "\tinet 127.0.0.1 netmask 0xff000000 \n" +
        "ppp0: flags=8010<POINTOPOINT,MULTICAST> mtu 1500\n" +
        "sl0: flags=c010<POINTOPOINT,LINK2,MULTICAST> mtu 552\n" +
        "faith0: flags=8002<BROADCAST,MULTICAST> mtu 1500\n";

    // FreeBSD 14.1 (loopback listed first, options/nd6/groups lines, a down interface with an address, metric).
    private const string FreeBsd14 =
        "lo0: flags=1008049<UP,LOOPBACK,RUNNING,MULTICAST,LOWER_UP> metric 0 mtu 16384\n" +
        "\toptions=680003<RXCSUM,TXCSUM,LINKSTATE,RXCSUM_IPV6,TXCSUM_IPV6>\n" +
        "\tinet 127.0.0.1 netmask 0xff000000\n" +
        "\tinet6 ::1 prefixlen 128\n" +
        "\tinet6 fe80::1%lo0 prefixlen 64 scopeid 0x2\n" +
        "\tgroups: lo\n" +
        "\tnd6 options=21<PERFORMNUD,AUTO_LINKLOCAL>\n" +
        "em1: flags=8802<BROADCAST,SIMPLEX,MULTICAST> metric 0 mtu 1500\n" +
        "\toptions=4e504bb<RXCSUM,TXCSUM,VLAN_MTU,VLAN_HWTAGGING,JUMBO_MTU,VLAN_HWCSUM,LRO>\n" +
        "\tether 58:9c:fc:00:00:02\n" +
        "\tinet 192.168.50.2 netmask 0xffffff00 broadcast 192.168.50.255\n" +
        "\tmedia: Ethernet autoselect\n" +
        "\tstatus: no carrier\n" +
        "em0: flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu 1500\n" +
        "\toptions=4e504bb<RXCSUM,TXCSUM,VLAN_MTU,VLAN_HWTAGGING,JUMBO_MTU,VLAN_HWCSUM,LRO>\n" +
        "\tether 58:9c:fc:00:00:01\n" +
        "\tinet 192.0.2.10 netmask 0xffffff00 broadcast 192.0.2.255\n" +
        "\tinet 192.0.2.20 netmask 0xffffffff broadcast 192.0.2.20\n" +
        "\tinet6 fe80::5a9c:fcff:fe00:1%em0 prefixlen 64 scopeid 0x1\n" +
        "\tmedia: Ethernet autoselect (1000baseT <full-duplex>)\n" +
        "\tstatus: active\n" +
        "\tnd6 options=29<PERFORMNUD,IFDISABLED,AUTO_LINKLOCAL>\n";

    [Fact]
    public void Reads_FreeBSD_4_interfaces_addresses_and_netmasks()
    {
        var interfaces = Ifconfig.Parse(FreeBsd4);

        Assert.Equal(["fxp0", "lp0", "lo0", "ppp0", "sl0", "faith0"], interfaces.Select(i => i.Name));
        var fxp0 = interfaces[0];
        Assert.True(fxp0.IsUp);
        Assert.False(fxp0.IsLoopback);
        Assert.Equal(1500, fxp0.Mtu);
        Assert.Equal(
            [new Inet4Address("10.11.12.13", 24, "10.11.12.255"), new Inet4Address("10.11.12.16", 32, "10.11.12.16")],
            fxp0.Addresses);
        Assert.Equal([new Inet4Address("127.0.0.1", 8, null)], interfaces[2].Addresses);
        Assert.True(interfaces[2].IsLoopback);
        Assert.False(interfaces[1].IsUp);
        Assert.Empty(interfaces[3].Addresses);
    }

    [Fact]
    public void The_primary_address_of_a_4x_server_is_the_first_address_of_its_first_interface_not_the_alias()
    {
        Assert.Equal("10.11.12.13", Ifconfig.PrimaryAddress(Ifconfig.Parse(FreeBsd4))?.Address);
    }

    [Fact]
    public void Reads_FreeBSD_14_and_skips_loopback_and_interfaces_that_are_down()
    {
        var interfaces = Ifconfig.Parse(FreeBsd14);

        Assert.Equal(["lo0", "em1", "em0"], interfaces.Select(i => i.Name));
        Assert.Equal(16384, interfaces[0].Mtu);
        Assert.Contains("LOWER_UP", interfaces[2].Flags);
        Assert.Equal(["192.0.2.10", "192.0.2.20"], interfaces[2].Addresses.Select(a => a.Address));
        Assert.Equal("192.0.2.10", Ifconfig.PrimaryAddress(interfaces)?.Address);
    }

    [Theory]
    [InlineData("\tinet 10.0.0.5/24 broadcast 10.0.0.255", 24)]
    [InlineData("\tinet 10.0.0.5 netmask 255.255.0.0 broadcast 10.0.255.255", 16)]
    [InlineData("\tinet 10.0.0.5 netmask 0xfffffffc", 30)]
    [InlineData("\tinet 10.0.0.5 --> 10.0.0.6 netmask 0xffffffff", 32)]
    public void Reads_cidr_dotted_and_point_to_point_forms(string inet, int prefix)
    {
        var i = Ifconfig.Parse("tun0: flags=8051<UP,POINTOPOINT,RUNNING,MULTICAST> mtu 1500\n" + inet + "\n");
        Assert.Equal(new Inet4Address("10.0.0.5", prefix, inet.Contains("broadcast", StringComparison.Ordinal) ? inet.Split(' ')[^1] : null), i[0].Addresses[0]);
    }

    [Fact]
    public void Only_loopback_or_nothing_up_means_no_primary_address()
    {
        Assert.Null(Ifconfig.PrimaryAddress(Ifconfig.Parse("lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384\n\tinet 127.0.0.1 netmask 0xff000000\n")));
        Assert.Null(Ifconfig.PrimaryAddress(Ifconfig.Parse("fxp0: flags=8802<BROADCAST,SIMPLEX,MULTICAST> mtu 1500\n\tinet 10.1.1.1 netmask 0xffffff00\n")));
        Assert.Empty(Ifconfig.Parse(string.Empty));
    }

    [Theory]
    [InlineData("fxp0: flags=8843<UP> mtu 1500\n\tinet 10.0.0.300 netmask 0xffffff00\n")]
    [InlineData("fxp0: flags=8843<UP> mtu 1500\n\tinet 10.0.0.3 netmask 0xff00ff00\n")]
    [InlineData("fxp0: flags=8843<UP> mtu 1500\n\tinet 10.0.0.3 netmask bogus\n")]
    [InlineData("\tinet 10.0.0.3 netmask 0xffffff00\n")]
    public void Malformed_inet_lines_are_a_FormatException(string output)
    {
        Assert.Throws<FormatException>(() => Ifconfig.Parse(output));
    }

    [Fact]
    public void The_command_is_ifconfig_a()
    {
        Assert.Equal("ifconfig -a", Ifconfig.Command().Text);
    }
}
