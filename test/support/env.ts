// Quiet handler logs in tests unless asked for (POWERTOOLS_LOG_LEVEL=DEBUG npm test).
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
