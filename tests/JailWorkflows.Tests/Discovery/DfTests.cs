using JailWorkflows.FreeBsd;

namespace JailWorkflows.Tests.Discovery;

public sealed class DfTests
{
    [Fact]
    public void Reads_FreeBSD_4_df_k_including_a_full_root_reserve()
    {
        const string output =
            "Filesystem  1K-blocks    Used   Avail Capacity  Mounted on\n" +
            "/dev/ad0s1a    126702   45366   71200    39%    /\n" +
            "/dev/ad0s1f   7621014 2345678 4665655    33%    /usr\n" +
            "/dev/ad0s1e    253678  245000  -11616   105%    /var\n";

        var entries = Df.Parse(output);

        Assert.Equal(
            [
                new DfEntry("/dev/ad0s1a", 126702, 45366, 71200, 39, "/"),
                new DfEntry("/dev/ad0s1f", 7621014, 2345678, 4665655, 33, "/usr"),
                new DfEntry("/dev/ad0s1e", 253678, 245000, -11616, 105, "/var"),
            ],
            entries);
    }

    [Fact]
    public void Reads_FreeBSD_14_df_k_with_long_names_and_a_mount_point_with_a_space()
    {
        const string output =
            "Filesystem         1K-blocks     Used    Avail Capacity  Mounted on\n" +
            "/dev/ada0p2         30450716  9876543 18138116    35%    /\n" +
            "zroot/usr/home     101412868 12345678 89067190    12%    /usr/home\n" +
            "/dev/ada1p1          1015324        8   934092     0%    /mnt/old disk\n";

        var entries = Df.Parse(output);

        Assert.Equal(3, entries.Count);
        Assert.Equal(new DfEntry("zroot/usr/home", 101412868, 12345678, 89067190, 12, "/usr/home"), entries[1]);
        Assert.Equal("/mnt/old disk", entries[2].MountedOn);
    }

    [Fact]
    public void A_device_wrapped_onto_its_own_line_is_joined_with_its_numbers()
    {
        const string output =
            "Filesystem 1K-blocks Used Avail Capacity Mounted on\n" +
            "/dev/mapper/a-very-long-volume-name\n" +
            "              1000 400 600 40% /data\n";

        Assert.Equal([new DfEntry("/dev/mapper/a-very-long-volume-name", 1000, 400, 600, 40, "/data")], Df.Parse(output));
    }

    [Theory]
    [InlineData("Filesystem 512-blocks Used Avail Capacity Mounted on\n/dev/ad0s1a 253404 90732 142400 39% /\n")]
    [InlineData("Filesystem  Size  Used Avail Capacity  Mounted on\n/dev/ad0s1a  124M   44M   70M    39%    /\n")]
    [InlineData("Filesystem 1K-blocks Used Avail Capacity Mounted on\n/dev/ad0s1a 126702 lots 71200 39% /\n")]
    [InlineData("Filesystem 1K-blocks Used Avail Capacity Mounted on\n/dev/ad0s1a 126702 45366 71200 /\n")]
    [InlineData("")]
    public void Output_not_in_1K_blocks_or_malformed_is_a_FormatException(string output)
    {
        Assert.Throws<FormatException>(() => Df.Parse(output));
    }

    [Fact]
    public void The_command_quotes_each_mount_point()
    {
        Assert.Equal("df -k / /usr '/mnt/old disk'", Df.Command("/", "/usr", "/mnt/old disk").Text);
    }
}
