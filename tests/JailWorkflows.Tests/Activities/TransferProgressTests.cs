using JailWorkflows.Engine.Activities;

namespace JailWorkflows.Tests.Activities;

public class TransferProgressTests
{
    [Fact]
    public void One_entry_per_poll_from_the_last_progress_line_with_percent_and_time_left()
    {
        string[] lines =
        [
            "  DUMP: Date of this level 0 dump: Sat Nov 30 03:00:00 2026",
            "  DUMP: 12.50% done, finished in 0:07 at Sat Nov 30 03:10:00 2026",
            "restore: ./usr/local: File exists",
            "  DUMP: 45.23% done, finished in 1:05 at Sat Nov 30 04:10:00 2026",
        ];

        Assert.Equal("partition /usr: 45.23% done, 1:05 left", TransferPartitions.ProgressMessage("/usr", lines));
    }

    [Fact]
    public void Linux_dump_progress_and_finished_soon_are_understood_and_other_lines_give_none()
    {
        Assert.Equal("partition /: 99.99% done, finishing soon", TransferPartitions.ProgressMessage("/", ["  DUMP: 99.99% done, finished soon"]));
        Assert.Equal("partition /var: 50% done, 0:02 left", TransferPartitions.ProgressMessage("/var", ["  DUMP: 50.00% done at 1234 kB/s, finished in 0:02"]));
        Assert.Null(TransferPartitions.ProgressMessage("/usr", ["  DUMP: DUMP IS DONE", "  DUMP: estimated 1234 blocks."]));
        Assert.Null(TransferPartitions.ProgressMessage("/usr", []));
    }
}
