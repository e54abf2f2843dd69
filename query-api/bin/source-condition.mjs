// Module resolve hook: resolves the workspace packages to their TypeScript sources (their `@observatory/source`
// export condition) instead of their dist/, which a checkout may not have built yet.
export async function resolve(specifier, context, nextResolve) {
  return nextResolve(specifier, { ...context, conditions: [...context.conditions, '@observatory/source'] });
}
