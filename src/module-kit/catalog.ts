import type { Module } from './contract.js';
import type { ModuleCatalog } from '../playbook/load.js';

/** What the playbook loader needs from the module registry, derived from each module's schema. */
export function catalogOf(modules: Record<string, Module<any>>): ModuleCatalog {
  const catalog: ModuleCatalog = new Map();
  for (const [name, m] of Object.entries(modules)) {
    const schema = m.schema as { properties?: Record<string, unknown>; required?: string[]; additionalProperties?: unknown };
    catalog.set(name, {
      properties: Object.keys(schema.properties ?? {}),
      required: schema.required ?? [],
      freeForm: m.freeForm,
      openArgs: schema.additionalProperties !== false,
    });
  }
  return catalog;
}
