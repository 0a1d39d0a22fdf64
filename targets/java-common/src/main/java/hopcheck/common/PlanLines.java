package hopcheck.common;

import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.function.UnaryOperator;

/** The driver protocol's lines: one JSON plan per line on stdin, one JSON answer per line on stdout. */
public final class PlanLines {
  private PlanLines() {}

  /**
   * Answers plan lines until stdin closes: {@code answer} turns one plan line into its answer
   * line. Blank lines are skipped. The answers go to the process's own stdout, whatever {@code
   * System.out} is set to; when it can no longer be written, the process exits with status 1.
   */
  public static void answerEach(UnaryOperator<String> answer) throws IOException {
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 20);
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) {
        continue;
      }
      out.print(answer.apply(line));
      out.print('\n');
      out.flush();
      if (out.checkError()) {
        System.err.println("cannot write the answer");
        System.exit(1);
      }
    }
  }
}
