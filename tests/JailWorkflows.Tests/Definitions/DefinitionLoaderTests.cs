using JailWorkflows.Engine.Definitions;

namespace JailWorkflows.Tests.Definitions;

public sealed class DefinitionLoaderTests
{
    private static string WorkflowsDir => Path.Combine(AppContext.BaseDirectory, "workflows");

    [Fact]
    public void The_shipped_definitions_are_valid_and_consolidate_server_has_the_seed_steps()
    {
        var documents = DefinitionLoader.LoadDirectory(WorkflowsDir);
        var consolidate = Assert.Single(documents, d => d.Id == "consolidate-server");
        // Version 3: the world is built while the partitions are transferred, both while the source is live (the build
        // does not touch the jail root); once both ended, the optional cutover (approval, level-1 delta: the downtime
        // never waits for the build), and the jail is made from the final tree.
        Assert.Equal(3, consolidate.Version);
        Assert.Equal(["buildworld", "transfer"], consolidate.Successors("preflight").Select(s => s.Id));
        Assert.Equal(["buildworld", "transfer"], consolidate.Steps.Single(s => s.Id == "cutover-approval").After);
        Assert.Contains(consolidate.StepsAfter("transfer"), s => s.Activity == "Cutover"); // transfer keeps restoresymtable for it
        Assert.Equal(
            ["Preflight", "BuildWorld", "TransferPartitions", "RequestApproval", "Cutover", "Strip", "InstallWorld", "MergeEtc", "StartJail", "VerifyJail"],
            consolidate.Steps.Select(s => s.Activity));
        Assert.Equal(["cutover-approval", "cutover"], consolidate.Steps.Skip(3).Take(2).Select(s => s.Id));
    }

    [Fact]
    public void An_unknown_activity_is_named_with_its_field()
    {
        var ex = Assert.Throws<DefinitionValidationException>(() => DefinitionLoader.Parse(
            """{ "id": "x", "version": 1, "steps": [ { "id": "a", "activity": "Strip" }, { "id": "b", "activity": "FormatDisk" } ] }""", "x.json"));
        var error = Assert.Single(ex.Errors);
        Assert.Equal("steps[1].activity", error.Field);
        Assert.Contains("FormatDisk", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Schema_errors_name_the_field_and_all_are_reported()
    {
        var ex = Assert.Throws<DefinitionValidationException>(() => DefinitionLoader.Parse(
            """{ "id": "Bad Id", "version": "one", "steps": [ { "id": "a", "activity": "Strip", "colour": "red" } ] }""", "x.json"));
        var fields = ex.Errors.Select(e => e.Field).ToList();
        Assert.Contains("id", fields);
        Assert.Contains("version", fields);
        Assert.Contains(fields, f => f.StartsWith("steps[0]", StringComparison.Ordinal));
    }

    [Fact]
    public void Inputs_are_validated_against_the_activity_schema()
    {
        var ex = Assert.Throws<DefinitionValidationException>(() => DefinitionLoader.Parse(
            """{ "id": "x", "version": 1, "steps": [ { "id": "t", "activity": "TransferPartitions", "inputs": { "dumpLevel": 12 } } ] }""", "x.json"));
        Assert.Contains(ex.Errors, e => e.Field == "steps[0].inputs.dumpLevel");
    }

    [Fact]
    public void Duplicate_step_ids_and_malformed_json_are_errors()
    {
        var dup = Assert.Throws<DefinitionValidationException>(() => DefinitionLoader.Parse(
            """{ "id": "x", "version": 1, "steps": [ { "id": "a", "activity": "Strip" }, { "id": "a", "activity": "Strip" } ] }""", "x.json"));
        Assert.Equal("steps[1].id", Assert.Single(dup.Errors).Field);
        var malformed = Assert.Throws<DefinitionValidationException>(() => DefinitionLoader.Parse("{ \"id\": ", "x.json"));
        Assert.Contains("malformed JSON", malformed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_compiled_definition_chains_the_steps_and_suspends_on_failure()
    {
        var document = DefinitionLoader.LoadDirectory(WorkflowsDir).Single(d => d.Id == "consolidate-server");
        var compiled = DefinitionCompiler.Compile(document);
        Assert.Equal(document.Steps.Count + 1, compiled.Steps.Count); // and the container of the two branches
        Assert.All(compiled.Steps, s => Assert.Equal(WorkflowCore.Models.WorkflowErrorHandling.Suspend, s.ErrorBehavior));
        Assert.Equal("preflight", compiled.Steps.FindById(0).ExternalId);
        Assert.Empty(compiled.Steps.FindById(document.Steps.Count - 1).Outcomes);
    }
}
