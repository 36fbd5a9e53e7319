using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace JailWorkflows.Engine.Store.Migrations
{
    /// <inheritdoc />
    public partial class InitialStore : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "DefinitionVersions",
                columns: table => new
                {
                    DefinitionId = table.Column<string>(type: "TEXT", nullable: false),
                    Version = table.Column<int>(type: "INTEGER", nullable: false),
                    Json = table.Column<string>(type: "TEXT", nullable: false),
                    RegisteredAt = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_DefinitionVersions", x => new { x.DefinitionId, x.Version });
                });

            migrationBuilder.CreateTable(
                name: "EventSubscriptions",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", nullable: false),
                    WorkflowId = table.Column<string>(type: "TEXT", nullable: true),
                    StepId = table.Column<int>(type: "INTEGER", nullable: false),
                    ExecutionPointerId = table.Column<string>(type: "TEXT", nullable: true),
                    EventName = table.Column<string>(type: "TEXT", nullable: true),
                    EventKey = table.Column<string>(type: "TEXT", nullable: true),
                    SubscribeAsOf = table.Column<DateTime>(type: "TEXT", nullable: false),
                    SubscriptionData = table.Column<string>(type: "TEXT", nullable: true),
                    ExternalToken = table.Column<string>(type: "TEXT", nullable: true),
                    ExternalWorkerId = table.Column<string>(type: "TEXT", nullable: true),
                    ExternalTokenExpiry = table.Column<DateTime>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_EventSubscriptions", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "Events",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", nullable: false),
                    EventName = table.Column<string>(type: "TEXT", nullable: true),
                    EventKey = table.Column<string>(type: "TEXT", nullable: true),
                    EventData = table.Column<string>(type: "TEXT", nullable: true),
                    EventTime = table.Column<DateTime>(type: "TEXT", nullable: false),
                    IsProcessed = table.Column<bool>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Events", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "ExecutionErrors",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    WorkflowId = table.Column<string>(type: "TEXT", nullable: true),
                    ExecutionPointerId = table.Column<string>(type: "TEXT", nullable: true),
                    ErrorTime = table.Column<DateTime>(type: "TEXT", nullable: false),
                    Message = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ExecutionErrors", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "JournalEntries",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    InstanceId = table.Column<string>(type: "TEXT", nullable: false),
                    Timestamp = table.Column<DateTime>(type: "TEXT", nullable: false),
                    Step = table.Column<string>(type: "TEXT", nullable: true),
                    Kind = table.Column<string>(type: "TEXT", nullable: false),
                    Message = table.Column<string>(type: "TEXT", nullable: false),
                    JobId = table.Column<string>(type: "TEXT", nullable: true),
                    ExitStatus = table.Column<int>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_JournalEntries", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "ScheduledCommands",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    CommandName = table.Column<string>(type: "TEXT", nullable: false),
                    Data = table.Column<string>(type: "TEXT", nullable: false),
                    ExecuteTime = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ScheduledCommands", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "WorkflowInstances",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", nullable: false),
                    WorkflowDefinitionId = table.Column<string>(type: "TEXT", nullable: false),
                    Version = table.Column<int>(type: "INTEGER", nullable: false),
                    Description = table.Column<string>(type: "TEXT", nullable: true),
                    Reference = table.Column<string>(type: "TEXT", nullable: true),
                    NextExecution = table.Column<long>(type: "INTEGER", nullable: true),
                    Status = table.Column<string>(type: "TEXT", nullable: false),
                    Data = table.Column<string>(type: "TEXT", nullable: true),
                    CreateTime = table.Column<DateTime>(type: "TEXT", nullable: false),
                    CompleteTime = table.Column<DateTime>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_WorkflowInstances", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "ExecutionPointers",
                columns: table => new
                {
                    InstanceId = table.Column<string>(type: "TEXT", nullable: false),
                    Id = table.Column<string>(type: "TEXT", nullable: false),
                    Ordinal = table.Column<int>(type: "INTEGER", nullable: false),
                    StepId = table.Column<int>(type: "INTEGER", nullable: false),
                    StepName = table.Column<string>(type: "TEXT", nullable: true),
                    Active = table.Column<bool>(type: "INTEGER", nullable: false),
                    Status = table.Column<string>(type: "TEXT", nullable: false),
                    SleepUntil = table.Column<DateTime>(type: "TEXT", nullable: true),
                    PersistenceData = table.Column<string>(type: "TEXT", nullable: true),
                    StartTime = table.Column<DateTime>(type: "TEXT", nullable: true),
                    EndTime = table.Column<DateTime>(type: "TEXT", nullable: true),
                    EventName = table.Column<string>(type: "TEXT", nullable: true),
                    EventKey = table.Column<string>(type: "TEXT", nullable: true),
                    EventPublished = table.Column<bool>(type: "INTEGER", nullable: false),
                    EventData = table.Column<string>(type: "TEXT", nullable: true),
                    ExtensionAttributes = table.Column<string>(type: "TEXT", nullable: true),
                    RetryCount = table.Column<int>(type: "INTEGER", nullable: false),
                    Children = table.Column<string>(type: "TEXT", nullable: true),
                    ContextItem = table.Column<string>(type: "TEXT", nullable: true),
                    PredecessorId = table.Column<string>(type: "TEXT", nullable: true),
                    Outcome = table.Column<string>(type: "TEXT", nullable: true),
                    Scope = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ExecutionPointers", x => new { x.InstanceId, x.Id });
                    table.ForeignKey(
                        name: "FK_ExecutionPointers_WorkflowInstances_InstanceId",
                        column: x => x.InstanceId,
                        principalTable: "WorkflowInstances",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_EventSubscriptions_EventName_EventKey",
                table: "EventSubscriptions",
                columns: new[] { "EventName", "EventKey" });

            migrationBuilder.CreateIndex(
                name: "IX_EventSubscriptions_WorkflowId",
                table: "EventSubscriptions",
                column: "WorkflowId");

            migrationBuilder.CreateIndex(
                name: "IX_Events_EventName_EventKey_EventTime",
                table: "Events",
                columns: new[] { "EventName", "EventKey", "EventTime" });

            migrationBuilder.CreateIndex(
                name: "IX_Events_IsProcessed_EventTime",
                table: "Events",
                columns: new[] { "IsProcessed", "EventTime" });

            migrationBuilder.CreateIndex(
                name: "IX_ExecutionErrors_WorkflowId",
                table: "ExecutionErrors",
                column: "WorkflowId");

            migrationBuilder.CreateIndex(
                name: "IX_JournalEntries_InstanceId_Id",
                table: "JournalEntries",
                columns: new[] { "InstanceId", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_ScheduledCommands_CommandName_Data",
                table: "ScheduledCommands",
                columns: new[] { "CommandName", "Data" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_ScheduledCommands_ExecuteTime",
                table: "ScheduledCommands",
                column: "ExecuteTime");

            migrationBuilder.CreateIndex(
                name: "IX_WorkflowInstances_CreateTime",
                table: "WorkflowInstances",
                column: "CreateTime");

            migrationBuilder.CreateIndex(
                name: "IX_WorkflowInstances_Status_NextExecution",
                table: "WorkflowInstances",
                columns: new[] { "Status", "NextExecution" });

            migrationBuilder.CreateIndex(
                name: "IX_WorkflowInstances_WorkflowDefinitionId_Version",
                table: "WorkflowInstances",
                columns: new[] { "WorkflowDefinitionId", "Version" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "DefinitionVersions");

            migrationBuilder.DropTable(
                name: "EventSubscriptions");

            migrationBuilder.DropTable(
                name: "Events");

            migrationBuilder.DropTable(
                name: "ExecutionErrors");

            migrationBuilder.DropTable(
                name: "ExecutionPointers");

            migrationBuilder.DropTable(
                name: "JournalEntries");

            migrationBuilder.DropTable(
                name: "ScheduledCommands");

            migrationBuilder.DropTable(
                name: "WorkflowInstances");
        }
    }
}
