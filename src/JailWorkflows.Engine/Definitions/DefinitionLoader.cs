using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using JailWorkflows.Engine.Activities;

namespace JailWorkflows.Engine.Definitions;

/// <summary>
/// Reads workflow definitions (JSON) and validates them against the definition schema
/// (<c>workflows/schema/workflow-definition.schema.json</c>, embedded) and the activity catalog: unknown
/// activities, duplicate step ids, inputs that do not match an activity's input schema, and a step graph (the steps' <c>after</c>)
/// that is not one structured fork/join flow from the first step to one last step are errors.
/// </summary>
public static class DefinitionLoader
{
    private static readonly Lazy<JsonSchema> DefinitionSchema = new(() =>
    {
        using var stream = typeof(DefinitionLoader).Assembly.GetManifestResourceStream("workflow-definition.schema.json")
            ?? throw new InvalidOperationException("The definition schema is not embedded.");
        using var reader = new StreamReader(stream);
        return JsonSchema.FromText(reader.ReadToEnd());
    });

    private static readonly Lazy<IReadOnlyDictionary<string, JsonSchema>> InputSchemas = new(() =>
        ActivityCatalog.All.ToDictionary(a => a.Key, a => JsonSchema.FromText(a.Value.InputSchema), StringComparer.Ordinal));

    /// <summary>Parses and validates a definition.</summary>
    /// <param name="json">The definition's JSON text.</param>
    /// <param name="source">Where it came from (file name), for messages.</param>
    /// <returns>The validated definition.</returns>
    /// <exception cref="DefinitionValidationException">The JSON is malformed or the definition is invalid; every problem is listed.</exception>
    public static WorkflowDocument Parse(string json, string source)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException ex)
        {
            throw new DefinitionValidationException(source, [new DefinitionError($"line {ex.LineNumber + 1}", "malformed JSON: " + ex.Message)]);
        }

        if (root is not JsonObject obj)
        {
            throw new DefinitionValidationException(source, [new DefinitionError("$", "a definition is a JSON object")]);
        }

        var errors = new List<DefinitionError>();
        using (var doc = JsonDocument.Parse(json))
        {
            var result = DefinitionSchema.Value.Evaluate(doc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            if (!result.IsValid)
            {
                errors.AddRange(SchemaErrors(result, prefix: string.Empty));
            }
        }

        if (errors.Count > 0)
        {
            throw new DefinitionValidationException(source, errors);
        }

        var steps = new List<StepDocument>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var stepArray = (JsonArray)obj["steps"]!;
        for (var i = 0; i < stepArray.Count; i++)
        {
            var step = (JsonObject)stepArray[i]!;
            var id = (string)step["id"]!;
            var activity = (string)step["activity"]!;
            var inputs = step["inputs"] as JsonObject ?? new JsonObject();
            if (!ids.Add(id))
            {
                errors.Add(new DefinitionError($"steps[{i}].id", $"duplicate step id '{id}'"));
            }

            if (!ActivityCatalog.All.ContainsKey(activity))
            {
                errors.Add(new DefinitionError($"steps[{i}].activity", $"unknown activity '{activity}' (known: {string.Join(", ", ActivityCatalog.All.Keys.Order(StringComparer.Ordinal))})"));
            }
            else
            {
                using var inputDoc = JsonDocument.Parse(inputs.ToJsonString());
                var result = InputSchemas.Value[activity].Evaluate(inputDoc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
                if (!result.IsValid)
                {
                    errors.AddRange(SchemaErrors(result, prefix: $"steps[{i}].inputs"));
                }
                else if (ActivityCatalog.All[activity].CheckInputs is { } check)
                {
                    errors.AddRange(check(inputs).Select(m => new DefinitionError($"steps[{i}].inputs", m)));
                }
            }

            var retry = RetryPolicy.Default;
            if (ActivityCatalog.All.TryGetValue(activity, out var descriptor))
            {
                try
                {
                    retry = descriptor.Retry.With(step["retry"] as JsonObject);
                }
                catch (ArgumentException ex)
                {
                    errors.Add(new DefinitionError($"steps[{i}].retry", ex.Message.Split(" (Parameter", 2)[0]));
                }
            }

            steps.Add(new StepDocument(id, activity, (string?)step["title"] ?? id, (JsonObject)inputs.DeepClone(), retry));
        }

        var after = After(stepArray, steps, errors);
        if (errors.Count > 0)
        {
            throw new DefinitionValidationException(source, errors);
        }

        var (_, shapeErrors) = StepGraph.Analyze(steps.Select(s => s.Id).ToList(), after);
        if (shapeErrors.Count > 0)
        {
            throw new DefinitionValidationException(source, shapeErrors.Select(e => new DefinitionError($"steps[{e.Step}].after", e.Message)).ToList());
        }

        for (var i = 0; i < steps.Count; i++)
        {
            steps[i] = steps[i] with { After = after[i].Select(j => steps[j].Id).ToList() };
        }

        return new WorkflowDocument((string)obj["id"]!, (int)obj["version"]!, (string?)obj["title"], (string?)obj["description"], steps, json)
        {
            Scope = (string?)obj["scope"] == "jailHost" ? DefinitionScope.JailHost : DefinitionScope.Server,
        };
    }

    /// <summary>
    /// Resolves each step's <c>after</c> (left out: the previous step) to step indexes, adding an error for every name that is
    /// unknown, the step itself, listed twice, or a step further down (a step runs after earlier steps only, which also rules
    /// out cycles), and for a second first step (an empty <c>after</c> below the first step).
    /// </summary>
    private static List<IReadOnlyList<int>> After(JsonArray stepArray, List<StepDocument> steps, List<DefinitionError> errors)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < steps.Count; i++)
        {
            index.TryAdd(steps[i].Id, i);
        }

        var result = new List<IReadOnlyList<int>>();
        for (var i = 0; i < steps.Count; i++)
        {
            var id = steps[i].Id;
            if (stepArray[i]!["after"] is not JsonArray names)
            {
                result.Add(i == 0 ? [] : [i - 1]);
                continue;
            }

            var before = new List<int>();
            if (names.Count == 0 && i > 0)
            {
                errors.Add(new DefinitionError($"steps[{i}].after", $"step '{id}' runs after no step, but '{steps[0].Id}' is the first step: a definition has one first step; name the steps '{id}' runs after (or leave 'after' out: the previous step)"));
            }

            for (var k = 0; k < names.Count; k++)
            {
                var name = (string)names[k]!;
                var field = $"steps[{i}].after[{k}]";
                if (!index.TryGetValue(name, out var j))
                {
                    errors.Add(new DefinitionError(field, $"there is no step '{name}' (steps: {string.Join(", ", steps.Select(s => s.Id))})"));
                }
                else if (j == i)
                {
                    errors.Add(new DefinitionError(field, $"step '{id}' cannot run after itself"));
                }
                else if (j > i)
                {
                    errors.Add(new DefinitionError(field, $"step '{name}' comes further down (steps[{j}]): a step runs after steps listed before it only; move '{id}' below '{name}' (this also rules out cycles)"));
                }
                else if (before.Contains(j))
                {
                    errors.Add(new DefinitionError(field, $"step '{name}' is listed twice"));
                }
                else
                {
                    before.Add(j);
                }
            }

            result.Add(before);
        }

        return result;
    }

    /// <summary>Reads and validates every <c>*.json</c> definition directly in <paramref name="directory"/>.</summary>
    /// <param name="directory">The workflows directory.</param>
    /// <returns>The definitions, by file.</returns>
    /// <exception cref="DefinitionValidationException">A definition is invalid (the first invalid file, with all its problems).</exception>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    public static IReadOnlyList<WorkflowDocument> LoadDirectory(string directory)
    {
        var documents = new List<WorkflowDocument>();
        foreach (var file in Directory.EnumerateFiles(directory, "*.json").Order(StringComparer.Ordinal))
        {
            documents.Add(Parse(File.ReadAllText(file), Path.GetFileName(file)));
        }

        var duplicate = documents.GroupBy(d => (d.Id, d.Version)).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new DefinitionValidationException(directory, [new DefinitionError("id", $"'{duplicate.Key.Id}' version {duplicate.Key.Version} is defined twice")]);
        }

        return documents;
    }

    private static IEnumerable<DefinitionError> SchemaErrors(EvaluationResults result, string prefix)
    {
        IReadOnlyList<EvaluationResults> details = result.Details is { Count: > 0 } d ? d : [result];
        foreach (var detail in details)
        {
            if (detail.Errors is null)
            {
                continue;
            }

            foreach (var (keyword, message) in detail.Errors)
            {
                yield return new DefinitionError(ToPath(prefix, detail.InstanceLocation.ToString()), $"{message} ({keyword})");
            }
        }
    }

    private static string ToPath(string prefix, string pointer)
    {
        var path = prefix;
        foreach (var segment in pointer.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            path += int.TryParse(segment, out var index) ? $"[{index}]" : (path.Length == 0 ? segment : "." + segment);
        }

        return path.Length == 0 ? "$" : path;
    }
}
