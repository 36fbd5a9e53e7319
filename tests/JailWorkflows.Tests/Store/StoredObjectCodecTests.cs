using System.Text.Json.Nodes;
using JailWorkflows.Engine.Store;
using WorkflowCore.Models;

namespace JailWorkflows.Tests.Store;

public sealed class StoredObjectCodecTests
{
    public static TheoryData<object> AllowedValues() => new()
    {
        42,
        42L,
        "text",
        true,
        3.5m,
        Guid.Parse("0b6b1c1e-4a59-4b8e-9a52-6a1d2f6c0e11"),
        TimeSpan.FromMinutes(90),
        new DateTimeOffset(2025, 3, 14, 2, 0, 0, TimeSpan.FromHours(1)),
        TransferPhase.Restoring,
        PointerStatus.Sleeping,
        new[] { 1, 2, 3 },
        new List<PartitionCheckpoint> { new("/usr", 1, new DateTime(2025, 3, 14, 0, 0, 0, DateTimeKind.Utc), ["/"]) },
        new Dictionary<string, int> { ["/"] = 1, ["/usr"] = 2 },
        new Dictionary<string, List<SchedulePersistenceData>> { ["a"] = [new() { Elapsed = true }] },
        new IteratorPersistenceData { Index = 5, ChildrenActive = true },
    };

    [Theory]
    [MemberData(nameof(AllowedValues))]
    public void Allowed_values_come_back_as_their_type(object value)
    {
        var decoded = StoredObjectCodec.Decode(StoredObjectCodec.Encode(value));
        Assert.NotNull(decoded);
        Assert.Equal(value.GetType(), decoded.GetType());
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(value, value.GetType()), System.Text.Json.JsonSerializer.Serialize(decoded, decoded.GetType()));
    }

    [Fact]
    public void Untyped_json_is_kept_as_json()
    {
        var node = new JsonObject { ["host"] = "serverA", ["partitions"] = new JsonArray("/", "/usr") };
        var decoded = Assert.IsType<JsonObject>(StoredObjectCodec.Decode(StoredObjectCodec.Encode(node)));
        Assert.Equal(node.ToJsonString(), decoded.ToJsonString());
    }

    [Fact]
    public void Type_names_carry_no_version_and_resolve_back()
    {
        var name = StoredObjectCodec.FormatTypeName(typeof(Dictionary<string, List<IteratorPersistenceData>>));
        Assert.DoesNotContain("Version=", name, StringComparison.Ordinal);
        Assert.Equal(typeof(Dictionary<string, List<IteratorPersistenceData>>), StoredObjectCodec.ResolveTypeName(name));
        Assert.Equal(typeof(PartitionCheckpoint[]), StoredObjectCodec.ResolveTypeName(StoredObjectCodec.FormatTypeName(typeof(PartitionCheckpoint[]))));
    }

    [Theory]
    [InlineData(typeof(FileInfo))]
    [InlineData(typeof(Dictionary<string, object>))]
    [InlineData(typeof(List<FileInfo>))]
    [InlineData(typeof(object))]
    [InlineData(typeof(WorkflowCore.Services.WorkflowHost))]
    public void Types_off_the_allowlist_are_neither_written_nor_resolved(Type type)
    {
        Assert.False(StoredObjectCodec.IsAllowed(type));
        Assert.Throws<NotSupportedException>(() => StoredObjectCodec.FormatTypeName(type));
        var name = $"{type.FullName}, {type.Assembly.GetName().Name}";
        Assert.Throws<InvalidDataException>(() => StoredObjectCodec.ResolveTypeName(name));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"value":1}""")]
    [InlineData("""{"type":"System.Int32, System.Private.CoreLib"}""")]
    [InlineData("""{"type":"System.Int32, System.Private.CoreLib","value":"not a number"}""")]
    [InlineData("""{"type":"System.Int32[[[, System.Private.CoreLib","value":1}""")]
    public void Malformed_stored_values_are_refused(string stored)
        => Assert.Throws<InvalidDataException>(() => StoredObjectCodec.Decode(stored));
}
