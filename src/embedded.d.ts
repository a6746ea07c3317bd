declare module "*.yaml" { const text: string; export default text; }
declare module "*.proto" { const text: string; export default text; }
declare module "*.sql" { const text: string; export default text; }
