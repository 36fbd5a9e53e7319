using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace JailWorkflows.Engine.Store;

/// <summary>
/// Stores WorkflowCore's <c>object</c> fields (instance data, persistence data, event data, outcomes,
/// context items, subscription data, extension attributes) as System.Text.Json with the value's type
/// name, so they come back as their original .NET type.
/// </summary>
/// <remarks>
/// The stored form is an envelope <c>{"type":"Full.Name, Assembly","value":…}</c>. Only types on an
/// allowlist are written or read: anything in the <c>WorkflowCore.Models</c> namespace of WorkflowCore,
/// anything in an assembly named <c>JailWorkflows.*</c>, a fixed set of primitive/System value types
/// (plus <see cref="JsonElement"/>, <see cref="JsonObject"/> and <see cref="JsonArray"/> for untyped data), enums, one-dimensional arrays and <see cref="List{T}"/>, <see cref="HashSet{T}"/>,
/// <see cref="Dictionary{TKey,TValue}"/>, <see cref="KeyValuePair{TKey,TValue}"/> and
/// <see cref="Nullable{T}"/> of allowed types. A type name from the database is checked before any
/// value is materialised and no assembly outside the allowlist is ever loaded for it, so a tampered
/// row cannot make the engine instantiate an arbitrary type.
/// </remarks>
internal static class StoredObjectCodec
{
    private const string TypeProperty = "type";
    private const string ValueProperty = "value";

    private static readonly JsonSerializerOptions SerializerOptions = new(JsonSerializerDefaults.General);

    private static readonly HashSet<Type> AllowedScalars =
    [
        typeof(string), typeof(bool), typeof(char),
        typeof(byte), typeof(sbyte), typeof(short), typeof(ushort), typeof(int), typeof(uint), typeof(long), typeof(ulong),
        typeof(float), typeof(double), typeof(decimal),
        typeof(DateTime), typeof(DateTimeOffset), typeof(TimeSpan), typeof(DateOnly), typeof(TimeOnly),
        typeof(Guid), typeof(Uri), typeof(JsonElement), typeof(JsonObject), typeof(JsonArray),
    ];

    private static readonly HashSet<Type> AllowedGenericDefinitions =
    [
        typeof(List<>), typeof(HashSet<>), typeof(Dictionary<,>), typeof(KeyValuePair<,>), typeof(Nullable<>),
    ];

    /// <summary>Encodes a value as an envelope; null stays null.</summary>
    /// <exception cref="NotSupportedException">The value's type is not on the allowlist.</exception>
    public static string? Encode(object? value)
    {
        if (value is null)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteEnvelope(writer, value);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>Decodes an envelope written by <see cref="Encode"/>; null stays null.</summary>
    /// <exception cref="InvalidDataException">The text is not an envelope or names a type off the allowlist.</exception>
    public static object? Decode(string? stored)
    {
        if (stored is null)
        {
            return null;
        }

        using var document = ParseDocument(stored);
        return ReadEnvelope(document.RootElement);
    }

    /// <summary>Encodes a string-keyed map of values (e.g. extension attributes) as a JSON object of envelopes.</summary>
    /// <exception cref="NotSupportedException">A value's type is not on the allowlist.</exception>
    public static string EncodeMap(IReadOnlyDictionary<string, object> map)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in map)
            {
                writer.WritePropertyName(key);
                if (value is null)
                {
                    writer.WriteNullValue();
                }
                else
                {
                    WriteEnvelope(writer, value);
                }
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>Decodes a map written by <see cref="EncodeMap"/>; null or empty text gives an empty map.</summary>
    /// <exception cref="InvalidDataException">The text is malformed or names a type off the allowlist.</exception>
    public static Dictionary<string, object> DecodeMap(string? stored)
    {
        var result = new Dictionary<string, object>(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(stored))
        {
            return result;
        }

        using var document = ParseDocument(stored);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException("A stored attribute map is not a JSON object.");
        }

        foreach (var property in document.RootElement.EnumerateObject())
        {
            result[property.Name] = property.Value.ValueKind == JsonValueKind.Null ? null! : ReadEnvelope(property.Value)!;
        }

        return result;
    }

    /// <summary>The version-independent assembly-qualified name stored for <paramref name="type"/>.</summary>
    /// <exception cref="NotSupportedException">The type is not on the allowlist.</exception>
    public static string FormatTypeName(Type type)
    {
        if (!IsAllowed(type))
        {
            throw new NotSupportedException(
                $"Values of type '{type.FullName}' cannot be stored: the store only keeps types of WorkflowCore.Models, of JailWorkflows.* assemblies, primitive/System value types, enums, arrays and List/HashSet/Dictionary/Nullable of those.");
        }

        return Qualified(type);
    }

    /// <summary>Resolves a stored type name, refusing anything off the allowlist.</summary>
    /// <exception cref="InvalidDataException">The name is malformed, unknown or not allowed.</exception>
    public static Type ResolveTypeName(string name)
    {
        Type? type;
        try
        {
            type = Type.GetType(name, ResolveAssembly, ResolveType, throwOnError: false);
        }
        catch (Exception ex) when (ex is ArgumentException or FileLoadException or BadImageFormatException or TypeLoadException)
        {
            throw new InvalidDataException($"The stored type name '{name}' is malformed.", ex);
        }

        if (type is null || !IsAllowed(type))
        {
            throw new InvalidDataException($"The stored type name '{name}' is not allowed: the store only materialises allowlisted types.");
        }

        return type;
    }

    /// <summary>Whether values of <paramref name="type"/> may be stored and materialised.</summary>
    public static bool IsAllowed(Type type)
    {
        if (type.IsPointer || type.IsByRef || type.IsGenericParameter || type.ContainsGenericParameters)
        {
            return false;
        }

        if (type.IsArray)
        {
            return type.IsSZArray && IsAllowed(type.GetElementType()!);
        }

        if (type.IsGenericType && !type.IsGenericTypeDefinition)
        {
            var definition = type.GetGenericTypeDefinition();
            return (AllowedGenericDefinitions.Contains(definition) || IsOwnType(definition))
                && type.GetGenericArguments().All(IsAllowed);
        }

        return AllowedScalars.Contains(type) || type.IsEnum || IsOwnType(type);
    }

    private static bool IsOwnType(Type type)
    {
        var assemblyName = type.Assembly.GetName().Name;
        if (IsOwnAssemblyName(assemblyName))
        {
            return true;
        }

        return assemblyName == "WorkflowCore"
            && type.Namespace is { } ns
            && (ns == "WorkflowCore.Models" || ns.StartsWith("WorkflowCore.Models.", StringComparison.Ordinal));
    }

    private static bool IsOwnAssemblyName(string? name)
        => name is not null && name.StartsWith("JailWorkflows.", StringComparison.Ordinal);

    private static bool IsAllowedAssemblyName(string? name)
        => IsOwnAssemblyName(name)
            || name is "WorkflowCore" or "System.Private.CoreLib" or "System.Runtime" or "System.Collections"
                or "System.Private.Uri" or "System.Text.Json";

    private static Assembly? ResolveAssembly(AssemblyName name)
    {
        if (!IsAllowedAssemblyName(name.Name))
        {
            return null;
        }

        var loaded = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == name.Name);
        if (loaded is not null)
        {
            return loaded;
        }

        try
        {
            // Only allowlisted names reach here, by simple name: our own assemblies and the framework's.
            return Assembly.Load(new AssemblyName(name.Name!));
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    private static Type? ResolveType(Assembly? assembly, string name, bool ignoreCase)
        => (assembly ?? typeof(object).Assembly).GetType(name, throwOnError: false, ignoreCase: false);

    private static string Qualified(Type type) => $"{Name(type)}, {type.Assembly.GetName().Name}";

    private static string Name(Type type)
    {
        if (type.IsArray)
        {
            return Name(type.GetElementType()!) + "[]";
        }

        if (type.IsGenericType)
        {
            var arguments = type.GetGenericArguments().Select(a => "[" + Qualified(a) + "]");
            return type.GetGenericTypeDefinition().FullName + "[" + string.Join(",", arguments) + "]";
        }

        return type.FullName!;
    }

    private static void WriteEnvelope(Utf8JsonWriter writer, object value)
    {
        var type = value.GetType();
        writer.WriteStartObject();
        writer.WriteString(TypeProperty, FormatTypeName(type));
        writer.WritePropertyName(ValueProperty);
        JsonSerializer.Serialize(writer, value, type, SerializerOptions);
        writer.WriteEndObject();
    }

    private static object? ReadEnvelope(JsonElement envelope)
    {
        if (envelope.ValueKind != JsonValueKind.Object
            || !envelope.TryGetProperty(TypeProperty, out var typeElement)
            || typeElement.ValueKind != JsonValueKind.String
            || !envelope.TryGetProperty(ValueProperty, out var valueElement))
        {
            throw new InvalidDataException("A stored value is not a {\"type\",\"value\"} envelope.");
        }

        var type = ResolveTypeName(typeElement.GetString()!);
        try
        {
            return valueElement.Deserialize(type, SerializerOptions);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"A stored value of type '{type.FullName}' cannot be read: {ex.Message}", ex);
        }
    }

    private static JsonDocument ParseDocument(string stored)
    {
        try
        {
            return JsonDocument.Parse(stored);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException("A stored value is not valid JSON.", ex);
        }
    }
}
