// Entry point of the Pulumi program. Pulumi calls the exported function and exports what it returns
// as stack outputs; see stacks/program.ts.
import { stackProgram } from "./stacks/program";

export = () => stackProgram();
