using System.Text.Json;
using System.Text.Json.Serialization;

namespace JailWorkflows.Lab;

/// <summary>An sshd the lab started.</summary>
internal sealed class SshdRecord
{
    public required string Host { get; set; }

    public required string Address { get; set; }

    public int Port { get; set; } = LabLayout.SshPort;

    public required int Pid { get; set; }

    public required long StartTime { get; set; }

    public required string Config { get; set; }
}

/// <summary>A loop device the lab attached.</summary>
internal sealed class LoopRecord
{
    public required string Host { get; set; }

    public required string MountPoint { get; set; }

    public required string Device { get; set; }

    public required string Image { get; set; }
}

/// <summary>The lab's state file: exactly what UpAsync made, so DownAsync removes exactly that.</summary>
internal sealed class LabState
{
    public int Version { get; set; } = 1;

    public required string Directory { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public List<SshdRecord> Sshds { get; set; } = [];

    public List<LoopRecord> Loops { get; set; } = [];

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static LabState? Load(string file)
    {
        if (!File.Exists(file))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<LabState>(File.ReadAllText(file), Json);
        }
        catch (JsonException e)
        {
            throw new LabException($"The lab state file {file} is not valid JSON ({e.Message}); remove what it listed by hand, then delete it.", e);
        }
    }

    public void Save(string file, TimeProvider time)
    {
        UpdatedAt = time.GetUtcNow();
        var temp = file + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(this, Json));
        File.Move(temp, file, overwrite: true);
    }
}
